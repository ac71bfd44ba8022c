/* reduce_min_max.c - REDUCE_MAX / REDUCE_MIN kernels; see reduce_min_max.h. */
#include "reduce_min_max.h"

#include <float.h>

void td_reduce_min_max_s8(const int8_t *in, int8_t *out, const td_mean_params *p, int32_t sign) {
  const int32_t *d = p->dims, *os = p->out_strides;
  for (int32_t o = 0; o < p->out_count; ++o) out[o] = (int8_t)(sign > 0 ? INT8_MIN : INT8_MAX);
  for (int32_t i0 = 0; i0 < d[0]; ++i0)
    for (int32_t i1 = 0; i1 < d[1]; ++i1)
      for (int32_t i2 = 0; i2 < d[2]; ++i2)
        for (int32_t i3 = 0; i3 < d[3]; ++i3)
          for (int32_t i4 = 0; i4 < d[4]; ++i4) {
            int8_t *r = out + i0 * os[0] + i1 * os[1] + i2 * os[2] + i3 * os[3] + i4 * os[4];
            for (int32_t i5 = 0; i5 < d[5]; ++i5, ++in) {
              int8_t *cur = r + i5 * os[5];
              if (sign * *in > sign * *cur) *cur = *in;
            }
          }
}

void td_reduce_min_max_f32(const float *in, float *out, const td_mean_params *p, int32_t sign) {
  const int32_t *d = p->dims, *os = p->out_strides;
  const float s = (float)sign;
  for (int32_t o = 0; o < p->out_count; ++o) out[o] = -s * FLT_MAX;
  for (int32_t i0 = 0; i0 < d[0]; ++i0)
    for (int32_t i1 = 0; i1 < d[1]; ++i1)
      for (int32_t i2 = 0; i2 < d[2]; ++i2)
        for (int32_t i3 = 0; i3 < d[3]; ++i3)
          for (int32_t i4 = 0; i4 < d[4]; ++i4) {
            float *r = out + i0 * os[0] + i1 * os[1] + i2 * os[2] + i3 * os[3] + i4 * os[4];
            for (int32_t i5 = 0; i5 < d[5]; ++i5, ++in) {
              float *cur = r + i5 * os[5];
              if (s * *in > s * *cur) *cur = *in; /* a NaN input never wins, as in TFLM's `in > cur ? in : cur` */
            }
          }
}
