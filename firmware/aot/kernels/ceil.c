/* ceil.c - CEIL kernels; see ceil.h. */
#include "ceil.h"

#include <math.h>

void td_ceil_f32(const float *in, float *out, int32_t n) {
  for (int32_t i = 0; i < n; ++i) {
    const float v = in[i];
    out[i] = ceilf(v);
  }
}
