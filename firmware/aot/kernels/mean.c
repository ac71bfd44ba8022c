/* mean.c - MEAN kernels; see mean.h. */
#include "mean.h"

#include "td_fixedpoint.h"

#define TD_MEAN_ACCUMULATE(ACC_T)                                                                       \
  do {                                                                                                  \
    const int32_t *d = p->dims, *os = p->out_strides;                                                   \
    for (int32_t o = 0; o < p->out_count; ++o) acc[o] = (ACC_T)0;                                       \
    for (int32_t i0 = 0; i0 < d[0]; ++i0)                                                               \
      for (int32_t i1 = 0; i1 < d[1]; ++i1)                                                             \
        for (int32_t i2 = 0; i2 < d[2]; ++i2)                                                           \
          for (int32_t i3 = 0; i3 < d[3]; ++i3)                                                         \
            for (int32_t i4 = 0; i4 < d[4]; ++i4) {                                                     \
              ACC_T *a = acc + i0 * os[0] + i1 * os[1] + i2 * os[2] + i3 * os[3] + i4 * os[4];          \
              for (int32_t i5 = 0; i5 < d[5]; ++i5) a[i5 * os[5]] += *in++;                             \
            }                                                                                           \
  } while (0)

void td_mean_s8(const int8_t *in, int8_t *out, int32_t *acc, const td_mean_params *p) {
  TD_MEAN_ACCUMULATE(int32_t);
  for (int32_t o = 0; o < p->out_count; ++o) {
    const int32_t shifted = (int32_t)((int64_t)acc[o] - (int64_t)p->in_zp * p->count);
    const int32_t r = td_mul_by_quantized_multiplier(shifted, p->multiplier, p->shift) + p->out_zp;
    out[o] = (int8_t)td_clamp_i32(r, -128, 127);
  }
}

void td_mean_f32(const float *in, float *out, float *acc, const td_mean_params *p) {
  TD_MEAN_ACCUMULATE(float);
  for (int32_t o = 0; o < p->out_count; ++o) out[o] = acc[o] / (float)p->count;
}
