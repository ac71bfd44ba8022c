/* select_v2.c - SELECT_V2 kernels; see select_v2.h. */
#include "select_v2.h"

void td_select_v2_8(const uint8_t *cond, const uint8_t *x, const uint8_t *y, uint8_t *out, const td_bcast6x3 *v) {
  const int32_t *d = v->dims, *sc = v->sc, *sx = v->sx, *sy = v->sy;
  for (int32_t i0 = 0; i0 < d[0]; ++i0)
    for (int32_t i1 = 0; i1 < d[1]; ++i1)
      for (int32_t i2 = 0; i2 < d[2]; ++i2)
        for (int32_t i3 = 0; i3 < d[3]; ++i3)
          for (int32_t i4 = 0; i4 < d[4]; ++i4) {
            const uint8_t *pc = cond + i0 * sc[0] + i1 * sc[1] + i2 * sc[2] + i3 * sc[3] + i4 * sc[4];
            const uint8_t *px = x + i0 * sx[0] + i1 * sx[1] + i2 * sx[2] + i3 * sx[3] + i4 * sx[4];
            const uint8_t *py = y + i0 * sy[0] + i1 * sy[1] + i2 * sy[2] + i3 * sy[3] + i4 * sy[4];
            for (int32_t i5 = 0; i5 < d[5]; ++i5) *out++ = pc[i5 * sc[5]] ? px[i5 * sx[5]] : py[i5 * sy[5]];
          }
}

void td_select_v2_16(const uint8_t *cond, const uint16_t *x, const uint16_t *y, uint16_t *out, const td_bcast6x3 *v) {
  const int32_t *d = v->dims, *sc = v->sc, *sx = v->sx, *sy = v->sy;
  for (int32_t i0 = 0; i0 < d[0]; ++i0)
    for (int32_t i1 = 0; i1 < d[1]; ++i1)
      for (int32_t i2 = 0; i2 < d[2]; ++i2)
        for (int32_t i3 = 0; i3 < d[3]; ++i3)
          for (int32_t i4 = 0; i4 < d[4]; ++i4) {
            const uint8_t *pc = cond + i0 * sc[0] + i1 * sc[1] + i2 * sc[2] + i3 * sc[3] + i4 * sc[4];
            const uint16_t *px = x + i0 * sx[0] + i1 * sx[1] + i2 * sx[2] + i3 * sx[3] + i4 * sx[4];
            const uint16_t *py = y + i0 * sy[0] + i1 * sy[1] + i2 * sy[2] + i3 * sy[3] + i4 * sy[4];
            for (int32_t i5 = 0; i5 < d[5]; ++i5) *out++ = pc[i5 * sc[5]] ? px[i5 * sx[5]] : py[i5 * sy[5]];
          }
}

void td_select_v2_32(const uint8_t *cond, const uint32_t *x, const uint32_t *y, uint32_t *out, const td_bcast6x3 *v) {
  const int32_t *d = v->dims, *sc = v->sc, *sx = v->sx, *sy = v->sy;
  for (int32_t i0 = 0; i0 < d[0]; ++i0)
    for (int32_t i1 = 0; i1 < d[1]; ++i1)
      for (int32_t i2 = 0; i2 < d[2]; ++i2)
        for (int32_t i3 = 0; i3 < d[3]; ++i3)
          for (int32_t i4 = 0; i4 < d[4]; ++i4) {
            const uint8_t *pc = cond + i0 * sc[0] + i1 * sc[1] + i2 * sc[2] + i3 * sc[3] + i4 * sc[4];
            const uint32_t *px = x + i0 * sx[0] + i1 * sx[1] + i2 * sx[2] + i3 * sx[3] + i4 * sx[4];
            const uint32_t *py = y + i0 * sy[0] + i1 * sy[1] + i2 * sy[2] + i3 * sy[3] + i4 * sy[4];
            for (int32_t i5 = 0; i5 < d[5]; ++i5) *out++ = pc[i5 * sc[5]] ? px[i5 * sx[5]] : py[i5 * sy[5]];
          }
}
