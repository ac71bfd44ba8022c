/* leaky_relu_s16.c - int16 LEAKY_RELU; see leaky_relu_s16.h. */
#include "leaky_relu_s16.h"

#include "td_fixedpoint.h"

void td_leaky_relu_s16(const int16_t *in, int16_t *out, int32_t n, const td_leaky_relu_s8_params *p) {
  for (int32_t i = 0; i < n; ++i) {
    const int32_t d = (int32_t)in[i] - p->in_zp;
    int32_t r;
    if (d >= 0) {
      r = td_mul_by_quantized_multiplier(d, p->identity_multiplier, p->identity_shift);
    } else {
      r = td_mul_by_quantized_multiplier(d, p->alpha_multiplier, p->alpha_shift);
      r = p->alpha_negative ? -r : r;
    }
    out[i] = (int16_t)td_clamp_i32(p->out_zp + r, INT16_MIN, INT16_MAX);
  }
}
