/* sub.c - SUB kernels; see sub.h.  out may alias a non-broadcast input. */
#include "sub.h"

#include "td_bcast.h"
#include "td_fixedpoint.h"

static inline int32_t td_sub_one(int32_t x, int32_t y, const td_add_s8_params *p) {
  const int32_t xs = (int32_t)((uint32_t)(x + p->a_offset) << p->left_shift);
  const int32_t ys = (int32_t)((uint32_t)(y + p->b_offset) << p->left_shift);
  const int32_t xr = td_mul_by_quantized_multiplier_smaller_than_one(xs, p->a_multiplier, p->a_shift);
  const int32_t yr = td_mul_by_quantized_multiplier_smaller_than_one(ys, p->b_multiplier, p->b_shift);
  const int32_t r = td_mul_by_quantized_multiplier_smaller_than_one(xr - yr, p->out_multiplier, p->out_shift);
  return td_clamp_i32(r + p->out_offset, p->act_min, p->act_max);
}

void td_sub_s8(const int8_t *a, const int8_t *b, int8_t *out, const td_bcast6 *bc, const td_add_s8_params *p) {
  TD_BCAST6_FOR(int8_t, int8_t, int8_t, a, b, out, bc, *o = (int8_t)td_sub_one(xa, xb, p));
}

void td_sub_s16(const int16_t *a, const int16_t *b, int16_t *out, const td_bcast6 *bc, const td_add_s8_params *p) {
  TD_BCAST6_FOR(int16_t, int16_t, int16_t, a, b, out, bc, *o = (int16_t)td_sub_one(xa, xb, p));
}

void td_sub_f32(const float *a, const float *b, float *out, const td_bcast6 *bc, float act_min, float act_max) {
  TD_BCAST6_FOR(float, float, float, a, b, out, bc, *o = td_clamp_f32_range(xa - xb, act_min, act_max));
}
