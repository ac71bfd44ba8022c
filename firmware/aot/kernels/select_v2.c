/* select_v2.c - SELECT_V2 kernel; see select_v2.h. */
#include "select_v2.h"

#include <string.h>

void td_select_v2(const uint8_t *cond, const void *x, const void *y, void *out, const td_bcast6x3 *v,
                  uint32_t elem_bytes) {
  const int32_t *d = v->dims, *sc = v->sc, *sx = v->sx, *sy = v->sy;
  const uint8_t *xb = (const uint8_t *)x, *yb = (const uint8_t *)y;
  uint8_t *ob = (uint8_t *)out;
  const int32_t n = (int32_t)elem_bytes; /* strides count elements; byte offsets stay signed */
  for (int32_t i0 = 0; i0 < d[0]; ++i0)
    for (int32_t i1 = 0; i1 < d[1]; ++i1)
      for (int32_t i2 = 0; i2 < d[2]; ++i2)
        for (int32_t i3 = 0; i3 < d[3]; ++i3)
          for (int32_t i4 = 0; i4 < d[4]; ++i4) {
            const uint8_t *pc = cond + i0 * sc[0] + i1 * sc[1] + i2 * sc[2] + i3 * sc[3] + i4 * sc[4];
            const uint8_t *px = xb + (i0 * sx[0] + i1 * sx[1] + i2 * sx[2] + i3 * sx[3] + i4 * sx[4]) * n;
            const uint8_t *py = yb + (i0 * sy[0] + i1 * sy[1] + i2 * sy[2] + i3 * sy[3] + i4 * sy[4]) * n;
            for (int32_t i5 = 0; i5 < d[5]; ++i5, ob += elem_bytes) {
              const uint8_t *src = pc[i5 * sc[5]] ? px + i5 * sx[5] * n : py + i5 * sy[5] * n;
              memcpy(ob, src, elem_bytes);
            }
          }
}
