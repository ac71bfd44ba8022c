/* sin.c - SIN kernel; see sin.h. */
#include "sin.h"

#include <math.h>

void td_sin_f32(const float *in, float *out, int32_t n) {
  for (int32_t i = 0; i < n; ++i) out[i] = sinf(in[i]);
}
