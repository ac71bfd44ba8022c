/* tanh_f32.c - float32 TANH: the C library's tanhf, as TFLM's reference kernel (std::tanh). */
#include "tanh_f32.h"

#include <math.h>

void td_tanh_f32(const float *in, float *out, int32_t size) {
  for (int32_t i = 0; i < size; ++i) out[i] = tanhf(in[i]);
}
