/* squared_difference.c - SQUARED_DIFFERENCE kernels; see squared_difference.h. */
#include "squared_difference.h"

#include "td_bcast.h"
#include "td_fixedpoint.h"

static inline int32_t td_sqdiff_one(int32_t x, int32_t y, const td_squared_difference_params *p) {
  const int32_t xs = (int32_t)((uint32_t)(x + p->a_offset) << p->left_shift);
  const int32_t ys = (int32_t)((uint32_t)(y + p->b_offset) << p->left_shift);
  const int32_t xr = td_mul_by_quantized_multiplier_smaller_than_one(xs, p->a_multiplier, p->a_shift);
  const int32_t yr = td_mul_by_quantized_multiplier_smaller_than_one(ys, p->b_multiplier, p->b_shift);
  const int32_t d = xr - yr;
  const int32_t r = td_mul_by_quantized_multiplier(d * d, p->out_multiplier, p->out_shift) + p->out_offset;
  return td_clamp_i32(r, p->act_min, p->act_max);
}

void td_squared_difference_s8(const int8_t *a, const int8_t *b, int8_t *out, const td_bcast6 *bc,
                              const td_squared_difference_params *p) {
  TD_BCAST6_FOR(int8_t, int8_t, int8_t, a, b, out, bc, *o = (int8_t)td_sqdiff_one(xa, xb, p));
}

void td_squared_difference_s16(const int16_t *a, const int16_t *b, int16_t *out, const td_bcast6 *bc,
                               const td_squared_difference_params *p) {
  TD_BCAST6_FOR(int16_t, int16_t, int16_t, a, b, out, bc, *o = (int16_t)td_sqdiff_one(xa, xb, p));
}

void td_squared_difference_f32(const float *a, const float *b, float *out, const td_bcast6 *bc) {
  TD_BCAST6_FOR(float, float, float, a, b, out, bc, { const float d = xa - xb; *o = d * d; });
}
