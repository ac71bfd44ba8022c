/* cos.c - COS kernel; see cos.h. */
#include "cos.h"

#include <math.h>

void td_cos_f32(const float *in, float *out, int32_t n) {
  for (int32_t i = 0; i < n; ++i) out[i] = cosf(in[i]);
}
