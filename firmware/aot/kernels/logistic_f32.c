/* logistic_f32.c - float32 LOGISTIC with TFLM's reference cut-offs: above ~16.6 the result rounds to 1,
 * below -9 exp(x) alone is as accurate as 1 / (1 + exp(-x)). */
#include "logistic_f32.h"

#include <math.h>

void td_logistic_f32(const float *in, float *out, int32_t size) {
  const float cutoff_upper = 16.619047164916992188f;
  const float cutoff_lower = -9.0f;
  for (int32_t i = 0; i < size; ++i) {
    const float x = in[i];
    float y;
    if (x > cutoff_upper) {
      y = 1.0f;
    } else if (x < cutoff_lower) {
      y = expf(x);
    } else {
      y = 1.0f / (1.0f + expf(-x));
    }
    out[i] = y;
  }
}
