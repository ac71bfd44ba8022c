/* log.c - LOG kernels; see log.h. */
#include "log.h"

#include <math.h>

void td_log_f32(const float *in, float *out, int32_t n) {
  for (int32_t i = 0; i < n; ++i) {
    const float v = in[i];
    out[i] = logf(v);
  }
}
