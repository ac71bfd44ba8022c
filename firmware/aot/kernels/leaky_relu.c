/* leaky_relu.c - LEAKY_RELU kernels; see leaky_relu.h. */
#include "leaky_relu.h"

#include "td_fixedpoint.h"

void td_leaky_relu_s8(const int8_t *in, int8_t *out, int32_t n, const td_leaky_relu_s8_params *p) {
  for (int32_t i = 0; i < n; ++i) {
    const int32_t d = (int32_t)in[i] - p->in_zp;
    int32_t r;
    if (d >= 0) {
      r = td_mul_by_quantized_multiplier(d, p->identity_multiplier, p->identity_shift);
    } else {
      r = td_mul_by_quantized_multiplier(d, p->alpha_multiplier, p->alpha_shift);
      r = p->alpha_negative ? -r : r;
    }
    out[i] = (int8_t)td_clamp_i32(p->out_zp + r, -128, 127);
  }
}

void td_leaky_relu_f32(const float *in, float *out, int32_t n, float alpha) {
  for (int32_t i = 0; i < n; ++i) {
    const float v = in[i];
    out[i] = v > 0.0f ? v : v * alpha;
  }
}
