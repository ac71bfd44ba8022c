/* quantize.c - QUANTIZE kernels. */
#include "quantize.h"

#include <math.h>

#include "td_fixedpoint.h"

static int32_t td_round_to_int(float x, int32_t lo, int32_t hi) {
  /* TFLM: static_cast<int32_t>(std::round(x)), then clamp after adding the zero point. Values far outside
   * the int32 range are clamped first so the conversion stays defined. */
  const float r = roundf(x);
  if (r >= 2147483520.0f) return hi > 0 ? 2147483520 : hi;
  if (r <= -2147483648.0f) return lo < 0 ? (-2147483647 - 1) : lo;
  return (int32_t)r;
}

void td_quantize_f32_s8(const float *input, int8_t *output, int32_t n, float scale, int32_t zero_point) {
  int32_t i;
  for (i = 0; i < n; ++i) {
    const int32_t q = td_round_to_int(input[i] / scale, -128, 127);
    /* add in 64 bits: q can be near INT32_MAX for huge inputs */
    const int64_t v = (int64_t)q + zero_point;
    output[i] = (int8_t)(v < -128 ? -128 : (v > 127 ? 127 : v));
  }
}

void td_quantize_f32_s16(const float *input, int16_t *output, int32_t n, float scale, int32_t zero_point) {
  int32_t i;
  for (i = 0; i < n; ++i) {
    const int32_t q = td_round_to_int(input[i] / scale, -32768, 32767);
    const int64_t v = (int64_t)q + zero_point;
    output[i] = (int16_t)(v < -32768 ? -32768 : (v > 32767 ? 32767 : v));
  }
}

void td_requantize_s8_s8(const int8_t *input, int8_t *output, int32_t n, int32_t input_zero_point,
                         int32_t mult, int32_t shift, int32_t output_zero_point) {
  int32_t i;
  for (i = 0; i < n; ++i) {
    const int32_t x = (int32_t)input[i] - input_zero_point;
    const int32_t v = td_mul_by_quantized_multiplier(x, mult, shift) + output_zero_point;
    output[i] = (int8_t)td_clamp_i32(v, -128, 127);
  }
}
