/* elu.c - ELU kernels; see elu.h. */
#include "elu.h"

#include <math.h>

void td_elu_f32(const float *in, float *out, int32_t n) {
  for (int32_t i = 0; i < n; ++i) {
    const float v = in[i];
    out[i] = v < 0.0f ? expm1f(v) : v;
  }
}
