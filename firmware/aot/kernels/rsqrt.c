/* rsqrt.c - RSQRT kernels; see rsqrt.h. */
#include "rsqrt.h"

#include <math.h>

void td_rsqrt_f32(const float *in, float *out, int32_t n) {
  for (int32_t i = 0; i < n; ++i) {
    const float v = in[i];
    out[i] = 1.0f / sqrtf(v);
  }
}
