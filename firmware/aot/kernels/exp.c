/* exp.c - EXP kernels; see exp.h. */
#include "exp.h"

#include <math.h>

void td_exp_f32(const float *in, float *out, int32_t n) {
  for (int32_t i = 0; i < n; ++i) {
    const float v = in[i];
    out[i] = expf(v);
  }
}
