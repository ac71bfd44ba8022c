/* sqrt.c - SQRT kernels; see sqrt.h. */
#include "sqrt.h"

#include <math.h>

void td_sqrt_f32(const float *in, float *out, int32_t n) {
  for (int32_t i = 0; i < n; ++i) {
    const float v = in[i];
    out[i] = sqrtf(v);
  }
}
