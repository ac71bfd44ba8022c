/* mirror_pad.c - per-axis table gather; see mirror_pad.h. */
#include "mirror_pad.h"

#include <string.h>

void td_mirror_pad(const void *src, void *dst, int32_t elem_size, const td_mirror_pad6 *p) {
  const uint8_t *in = (const uint8_t *)src;
  uint8_t *out = (uint8_t *)dst;
  const int32_t *d = p->out_dims;
  const int32_t *t0 = p->src_offsets + p->table_start[0], *t1 = p->src_offsets + p->table_start[1];
  const int32_t *t2 = p->src_offsets + p->table_start[2], *t3 = p->src_offsets + p->table_start[3];
  const int32_t *t4 = p->src_offsets + p->table_start[4], *t5 = p->src_offsets + p->table_start[5];
  const size_t es = (size_t)elem_size;
  for (int32_t i0 = 0; i0 < d[0]; ++i0)
    for (int32_t i1 = 0; i1 < d[1]; ++i1)
      for (int32_t i2 = 0; i2 < d[2]; ++i2)
        for (int32_t i3 = 0; i3 < d[3]; ++i3)
          for (int32_t i4 = 0; i4 < d[4]; ++i4) {
            const int32_t row = t0[i0] + t1[i1] + t2[i2] + t3[i3] + t4[i4];
            for (int32_t i5 = 0; i5 < d[5]; ++i5, out += es) memcpy(out, in + (size_t)(row + t5[i5]) * es, es);
          }
}
