/* arg_min_max.c - ARG_MAX / ARG_MIN kernels; see arg_min_max.h. */
#include "arg_min_max.h"

void td_arg_min_max_s8(const int8_t *in, int32_t *out, int32_t outer, int32_t axis_len, int32_t inner, int32_t sign) {
  for (int32_t o = 0; o < outer; ++o)
    for (int32_t i = 0; i < inner; ++i) {
      const int8_t *x = in + o * axis_len * inner + i;
      int32_t best = sign * x[0], best_k = 0;
      for (int32_t k = 1; k < axis_len; ++k) {
        const int32_t v = sign * x[k * inner];
        if (v > best) {
          best = v;
          best_k = k;
        }
      }
      out[o * inner + i] = best_k;
    }
}

void td_arg_min_max_f32(const float *in, int32_t *out, int32_t outer, int32_t axis_len, int32_t inner, int32_t sign) {
  const float s = (float)sign;
  for (int32_t o = 0; o < outer; ++o)
    for (int32_t i = 0; i < inner; ++i) {
      const float *x = in + o * axis_len * inner + i;
      float best = s * x[0];
      int32_t best_k = 0;
      for (int32_t k = 1; k < axis_len; ++k) {
        const float v = s * x[k * inner];
        if (v > best) {
          best = v;
          best_k = k;
        }
      }
      out[o * inner + i] = best_k;
    }
}
