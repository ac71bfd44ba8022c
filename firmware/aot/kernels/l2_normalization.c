/* l2_normalization.c - L2_NORMALIZATION kernels; see l2_normalization.h. */
#include "l2_normalization.h"

#include <math.h>

#include "td_fixedpoint.h"

/* gemmlowp SaturatingRoundingMultiplyByPOT for a positive exponent. */
static int32_t td_sat_shift_left(int32_t x, int exponent) {
  const int32_t threshold = (int32_t)((1LL << (31 - exponent)) - 1);
  if (x > threshold) return INT32_MAX;
  if (x < -threshold) return INT32_MIN;
  return (int32_t)((uint32_t)x << exponent);
}

/* 1/sqrt(value) as multiplier * 2^shift (shift already negated, TFLite's kReverseShift). */
static void td_inv_sqrt(int32_t value, int32_t *multiplier, int32_t *shift) {
  if (value <= 1) {
    *multiplier = INT32_MAX;
    *shift = 0;
    return;
  }
  int32_t s = 11;
  while (value >= (1 << 29)) {
    value /= 4;
    ++s;
  }
  const int32_t max_left_shift_bits = __builtin_clz((uint32_t)value) - 1;
  const int32_t pairs = max_left_shift_bits / 2 - 1;
  s -= pairs;
  value <<= 2 * pairs;
  const int32_t half_input = td_rounding_divide_by_pot(value >> 1, 1);
  const int32_t half_three = (1 << 28) + (1 << 27);
  int32_t x = 1 << 28; /* 1.0 with 3 integer bits */
  for (int i = 0; i < 5; ++i) {
    const int32_t x2 = td_sat_rounding_doubling_high_mul(x, x);
    const int32_t x3 = td_sat_shift_left(td_sat_rounding_doubling_high_mul(x2, x), 6);
    const int32_t t = (int32_t)((uint32_t)td_sat_rounding_doubling_high_mul(half_three, x) -
                                (uint32_t)td_sat_rounding_doubling_high_mul(half_input, x3));
    x = td_sat_shift_left(t, 3);
  }
  x = td_sat_rounding_doubling_high_mul(x, 1518500250); /* sqrt(2) / 2 */
  if (s < 0) {
    x = (int32_t)((uint32_t)x << -s);
    s = 0;
  }
  *multiplier = x;
  *shift = -s;
}

void td_l2_normalization_s8(const int8_t *in, int8_t *out, int32_t outer, int32_t depth, int32_t in_zp) {
  for (int32_t o = 0; o < outer; ++o, in += depth, out += depth) {
    int32_t acc = 0;
    for (int32_t c = 0; c < depth; ++c) {
      const int32_t v = in[c] - in_zp;
      acc += v * v;
    }
    int32_t m, s;
    td_inv_sqrt(acc, &m, &s);
    for (int32_t c = 0; c < depth; ++c) {
      const int32_t r = td_mul_by_quantized_multiplier(in[c] - in_zp, m, s + 7);
      out[c] = (int8_t)td_clamp_i32(r, -128, 127);
    }
  }
}

void td_l2_normalization_f32(const float *in, float *out, int32_t outer, int32_t depth) {
  for (int32_t o = 0; o < outer; ++o, in += depth, out += depth) {
    float sq = 0.0f;
    for (int32_t c = 0; c < depth; ++c) sq += in[c] * in[c];
    float norm = sqrtf(sq);
    norm = norm < 1e-6f ? 1e-6f : norm;
    for (int32_t c = 0; c < depth; ++c) out[c] = in[c] / norm;
  }
}
