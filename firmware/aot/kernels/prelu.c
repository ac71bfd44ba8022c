/* prelu.c - PRELU kernels; see prelu.h. */
#include "prelu.h"

#include "td_bcast.h"
#include "td_fixedpoint.h"

static inline int8_t td_prelu_one(int32_t x, int32_t alpha, const td_prelu_s8_params *p) {
  const int32_t v = p->in_offset + x;
  int32_t r;
  if (v >= 0) {
    r = td_mul_by_quantized_multiplier(v, p->multiplier_1, p->shift_1);
  } else {
    r = td_mul_by_quantized_multiplier(v * (p->alpha_offset + alpha), p->multiplier_2, p->shift_2);
  }
  return (int8_t)td_clamp_i32(r + p->out_offset, -128, 127);
}

void td_prelu_s8(const int8_t *in, const int8_t *alpha, int8_t *out, const td_bcast6 *bc,
                 const td_prelu_s8_params *p) {
  TD_BCAST6_FOR(int8_t, int8_t, int8_t, in, alpha, out, bc, *o = td_prelu_one(xa, xb, p));
}

void td_prelu_f32(const float *in, const float *alpha, float *out, const td_bcast6 *bc) {
  TD_BCAST6_FOR(float, float, float, in, alpha, out, bc, *o = xa >= 0.0f ? xa : xa * xb);
}
