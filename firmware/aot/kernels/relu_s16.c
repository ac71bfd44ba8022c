/* relu_s16.c - int16 RELU / RELU6; see relu_s16.h. */
#include "relu_s16.h"

#include "td_fixedpoint.h"

void td_relu_s16(const int16_t *in, int16_t *out, int32_t n, int32_t in_zp, int32_t out_zp, int32_t multiplier,
                 int32_t shift, int32_t act_min, int32_t act_max) {
  for (int32_t i = 0; i < n; ++i) {
    const int32_t r = out_zp + td_mul_by_quantized_multiplier((int32_t)in[i] - in_zp, multiplier, shift);
    out[i] = (int16_t)td_clamp_i32(r, act_min, act_max);
  }
}

void td_clamp_s16(const int16_t *in, int16_t *out, int32_t n, int32_t lo, int32_t hi) {
  for (int32_t i = 0; i < n; ++i) out[i] = (int16_t)td_clamp_i32(in[i], lo, hi);
}
