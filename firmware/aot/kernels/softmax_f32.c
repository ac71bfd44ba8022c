/* softmax_f32.c - float32 SOFTMAX in TFLM's reference order of operations: subtract the row max, scale by
 * beta, expf, accumulate the sum in float, then divide (not multiply by a reciprocal) so the float
 * results round identically. */
#include "softmax_f32.h"

#include <math.h>

void td_softmax_f32(const float *in, float *out, int32_t outer, int32_t depth, float beta) {
  for (int32_t i = 0; i < outer; ++i) {
    const float *row_in = in + i * depth;
    float *row_out = out + i * depth;
    float max = -3.402823466e+38f;
    for (int32_t c = 0; c < depth; ++c) max = row_in[c] > max ? row_in[c] : max;
    float sum = 0.0f;
    for (int32_t c = 0; c < depth; ++c) {
      const float e = expf((row_in[c] - max) * beta);
      row_out[c] = e;
      sum += e;
    }
    for (int32_t c = 0; c < depth; ++c) row_out[c] = row_out[c] / sum;
  }
}
