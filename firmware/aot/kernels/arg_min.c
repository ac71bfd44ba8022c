/* arg_min.c - ARG_MIN kernels; see arg_min.h. */
#include "arg_min.h"

void td_arg_min_s8(const int8_t *in, int32_t *out, int32_t outer, int32_t axis_len, int32_t inner) {
  for (int32_t o = 0; o < outer; ++o)
    for (int32_t i = 0; i < inner; ++i) {
      const int8_t *x = in + o * axis_len * inner + i;
      int8_t best = x[0];
      int32_t best_k = 0;
      for (int32_t k = 1; k < axis_len; ++k) {
        if (x[k * inner] < best) {
          best = x[k * inner];
          best_k = k;
        }
      }
      out[o * inner + i] = best_k;
    }
}

void td_arg_min_f32(const float *in, int32_t *out, int32_t outer, int32_t axis_len, int32_t inner) {
  for (int32_t o = 0; o < outer; ++o)
    for (int32_t i = 0; i < inner; ++i) {
      const float *x = in + o * axis_len * inner + i;
      float best = x[0];
      int32_t best_k = 0;
      for (int32_t k = 1; k < axis_len; ++k) {
        if (x[k * inner] < best) {
          best = x[k * inner];
          best_k = k;
        }
      }
      out[o * inner + i] = best_k;
    }
}
