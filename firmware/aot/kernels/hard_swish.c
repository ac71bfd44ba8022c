/* hard_swish.c - HARD_SWISH kernels; see hard_swish.h. */
#include "hard_swish.h"


/* std::min(6, std::max(0, x)) as written: max(a, b) is a < b ? b : a, min(a, b) is b < a ? b : a. */
static inline float td_hard_swish_relu6(float x) {
  const float m = 0.0f < x ? x : 0.0f;
  return m < 6.0f ? m : 6.0f;
}

void td_hard_swish_f32(const float *in, float *out, int32_t n) {
  for (int32_t i = 0; i < n; ++i) {
    const float v = in[i];
    out[i] = v * td_hard_swish_relu6(v + 3.0f) / 6.0f;
  }
}
