/* dequantize.c - DEQUANTIZE kernels. */
#include "dequantize.h"

void td_dequantize_s8_f32(const int8_t *input, float *output, int32_t n, double scale, int32_t zero_point) {
  int32_t i;
  for (i = 0; i < n; ++i) output[i] = (float)(scale * (double)((int32_t)input[i] - zero_point));
}

void td_dequantize_s16_f32(const int16_t *input, float *output, int32_t n, double scale, int32_t zero_point) {
  int32_t i;
  for (i = 0; i < n; ++i) output[i] = (float)(scale * (double)((int32_t)input[i] - zero_point));
}
