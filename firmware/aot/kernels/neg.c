/* neg.c - NEG kernels; see neg.h. */
#include "neg.h"


void td_neg_f32(const float *in, float *out, int32_t n) {
  for (int32_t i = 0; i < n; ++i) {
    const float v = in[i];
    out[i] = -v;
  }
}
