/* sum.c - SUM kernels; see sum.h. */
#include "sum.h"

#include "td_fixedpoint.h"

#define TD_SUM_ACCUMULATE(ACC)                                                                          \
  do {                                                                                                  \
    const int32_t *d = p->dims, *os = p->out_strides;                                                   \
    for (int32_t o = 0; o < p->out_count; ++o) (ACC)[o] = 0;                                            \
    for (int32_t i0 = 0; i0 < d[0]; ++i0)                                                               \
      for (int32_t i1 = 0; i1 < d[1]; ++i1)                                                             \
        for (int32_t i2 = 0; i2 < d[2]; ++i2)                                                           \
          for (int32_t i3 = 0; i3 < d[3]; ++i3)                                                         \
            for (int32_t i4 = 0; i4 < d[4]; ++i4) {                                                     \
              const int32_t base = i0 * os[0] + i1 * os[1] + i2 * os[2] + i3 * os[3] + i4 * os[4];      \
              for (int32_t i5 = 0; i5 < d[5]; ++i5) (ACC)[base + i5 * os[5]] += *in++;                  \
            }                                                                                           \
  } while (0)

void td_sum_s16(const int16_t *in, int16_t *out, int32_t *acc, const td_mean_params *p) {
  TD_SUM_ACCUMULATE(acc);
  for (int32_t o = 0; o < p->out_count; ++o) {
    const int32_t shifted = (int32_t)((int64_t)acc[o] - (int64_t)p->in_zp * p->count);
    const int32_t r = td_mul_by_quantized_multiplier(shifted, p->multiplier, p->shift) + p->out_zp;
    out[o] = (int16_t)td_clamp_i32(r, -32768, 32767);
  }
}

void td_sum_f32(const float *in, float *out, const td_mean_params *p) { TD_SUM_ACCUMULATE(out); }
