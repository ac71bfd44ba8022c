/* round.c - ROUND kernels; see round.h. */
#include "round.h"

#include <math.h>

static inline float td_round_half_even(float v) {
  const float f = floorf(v);
  const float diff = v - f;
  if (diff < 0.5f || (diff == 0.5f && (int32_t)f % 2 == 0)) return f;
  return f + 1.0f;
}

void td_round_f32(const float *in, float *out, int32_t n) {
  for (int32_t i = 0; i < n; ++i) {
    const float v = in[i];
    out[i] = td_round_half_even(v);
  }
}
