/* mul_s16.c - int16 MUL; see mul_s16.h. */
#include "mul_s16.h"

#include "td_bcast.h"
#include "td_fixedpoint.h"

static inline int16_t td_mul_s16_one(int32_t x, int32_t y, const td_mul_s8_params *p) {
  const int32_t prod = (int32_t)((uint32_t)(x + p->a_offset) * (uint32_t)(y + p->b_offset));
  const int32_t r = p->out_offset + td_mul_by_quantized_multiplier(prod, p->out_multiplier, p->out_shift);
  return (int16_t)td_clamp_i32(r, p->act_min, p->act_max);
}

void td_mul_s16(const int16_t *a, const int16_t *b, int16_t *out, const td_bcast6 *bc, const td_mul_s8_params *p) {
  TD_BCAST6_FOR(int16_t, int16_t, int16_t, a, b, out, bc, *o = td_mul_s16_one(xa, xb, p));
}
