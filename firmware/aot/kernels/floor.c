/* floor.c - FLOOR kernels; see floor.h. */
#include "floor.h"

#include <math.h>

void td_floor_f32(const float *in, float *out, int32_t n) {
  for (int32_t i = 0; i < n; ++i) {
    const float v = in[i];
    out[i] = floorf(v);
  }
}
