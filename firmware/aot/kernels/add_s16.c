/* add_s16.c - int16 ADD; see add_s16.h. */
#include "add_s16.h"

#include "td_bcast.h"
#include "td_fixedpoint.h"

static inline int16_t td_add_s16_one(int32_t x, int32_t y, const td_add_s8_params *p) {
  const int32_t xs = (int32_t)((uint32_t)(x + p->a_offset) << p->left_shift);
  const int32_t ys = (int32_t)((uint32_t)(y + p->b_offset) << p->left_shift);
  const int32_t xr = td_mul_by_quantized_multiplier_smaller_than_one(xs, p->a_multiplier, p->a_shift);
  const int32_t yr = td_mul_by_quantized_multiplier_smaller_than_one(ys, p->b_multiplier, p->b_shift);
  const int32_t r = td_mul_by_quantized_multiplier_smaller_than_one(xr + yr, p->out_multiplier, p->out_shift);
  return (int16_t)td_clamp_i32(r + p->out_offset, p->act_min, p->act_max);
}

void td_add_s16(const int16_t *a, const int16_t *b, int16_t *out, const td_bcast6 *bc, const td_add_s8_params *p) {
  TD_BCAST6_FOR(int16_t, int16_t, int16_t, a, b, out, bc, *o = td_add_s16_one(xa, xb, p));
}
