/* requantize_s16.c - int16 -> int16 QUANTIZE; see requantize_s16.h. */
#include "requantize_s16.h"

#include "td_fixedpoint.h"

void td_requantize_s16_s16(const int16_t *input, int16_t *output, int32_t n, int32_t input_zero_point,
                           int32_t multiplier, int32_t shift, int32_t output_zero_point) {
  for (int32_t i = 0; i < n; ++i) {
    const int32_t r = td_mul_by_quantized_multiplier((int32_t)input[i] - input_zero_point, multiplier, shift);
    output[i] = (int16_t)td_clamp_i32(r + output_zero_point, INT16_MIN, INT16_MAX);
  }
}
