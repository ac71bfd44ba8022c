/* reduce_all.c - REDUCE_ALL kernel; see reduce_all.h. */
#include "reduce_all.h"

void td_reduce_all_b(const uint8_t *in, uint8_t *out, const td_mean_params *p) {
  const int32_t *d = p->dims, *os = p->out_strides;
  for (int32_t o = 0; o < p->out_count; ++o) out[o] = 1;
  for (int32_t i0 = 0; i0 < d[0]; ++i0)
    for (int32_t i1 = 0; i1 < d[1]; ++i1)
      for (int32_t i2 = 0; i2 < d[2]; ++i2)
        for (int32_t i3 = 0; i3 < d[3]; ++i3)
          for (int32_t i4 = 0; i4 < d[4]; ++i4) {
            uint8_t *r = out + i0 * os[0] + i1 * os[1] + i2 * os[2] + i3 * os[3] + i4 * os[4];
            for (int32_t i5 = 0; i5 < d[5]; ++i5, ++in) {
              uint8_t *cur = r + i5 * os[5];
              *cur = (uint8_t)(*cur && *in);
            }
          }
}
