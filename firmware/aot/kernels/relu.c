/* relu.c - RELU family kernels; see relu.h. */
#include "relu.h"

#include "td_fixedpoint.h"

void td_relu_s8(const int8_t *in, int8_t *out, int32_t n, int32_t in_zp, int32_t out_zp, int32_t multiplier,
                int32_t shift, int32_t act_min, int32_t act_max) {
  for (int32_t i = 0; i < n; ++i) {
    const int32_t r = out_zp + td_mul_by_quantized_multiplier((int32_t)in[i] - in_zp, multiplier, shift);
    out[i] = (int8_t)td_clamp_i32(r, act_min, act_max);
  }
}

void td_clamp_s8(const int8_t *in, int8_t *out, int32_t n, int32_t lo, int32_t hi) {
  for (int32_t i = 0; i < n; ++i) out[i] = (int8_t)td_clamp_i32(in[i], lo, hi);
}

void td_lut_s8(const int8_t *in, int8_t *out, int32_t n, const int8_t table[256]) {
  for (int32_t i = 0; i < n; ++i) out[i] = table[(int32_t)in[i] + 128];
}

void td_clamp_f32(const float *in, float *out, int32_t n, float lo, float hi) {
  for (int32_t i = 0; i < n; ++i) {
    float v = in[i];
    v = v < lo ? lo : v;
    out[i] = v > hi ? hi : v;
  }
}
