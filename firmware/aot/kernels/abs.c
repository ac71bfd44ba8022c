/* abs.c - ABS kernels; see abs.h. */
#include "abs.h"

#include <math.h>

#include "td_fixedpoint.h"

void td_abs_f32(const float *in, float *out, int32_t n) {
  for (int32_t i = 0; i < n; ++i) {
    const float v = in[i];
    out[i] = fabsf(v);
  }
}

void td_abs_s16(const int16_t *in, int16_t *out, int32_t n, int32_t needs_rescale, int32_t multiplier,
                int32_t shift) {
  for (int32_t i = 0; i < n; ++i) {
    int32_t v = in[i] < 0 ? -(int32_t)in[i] : (int32_t)in[i];
    if (needs_rescale) v = td_mul_by_quantized_multiplier(v, multiplier, shift);
    out[i] = (int16_t)td_clamp_i32(v, -32768, 32767);
  }
}
