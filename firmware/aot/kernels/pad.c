/* pad.c - constant padding; see pad.h. */
#include "pad.h"

#include <string.h>

static void td_fill(uint8_t *dst, int32_t count, int32_t elem_size, const void *value) {
  if (elem_size == 1) {
    memset(dst, *(const uint8_t *)value, (size_t)count);
    return;
  }
  for (int32_t i = 0; i < count; ++i) memcpy(dst + (size_t)i * (size_t)elem_size, value, (size_t)elem_size);
}

static int td_inside(int32_t i, int32_t before, int32_t size) { return i >= before && i < before + size; }

void td_pad(const void *src, void *dst, int32_t elem_size, const td_pad6 *p, const void *pad_value) {
  const uint8_t *in = (const uint8_t *)src;
  uint8_t *out = (uint8_t *)dst;
  const int32_t *od = p->out_dims, *id = p->in_dims, *b = p->before;
  const int32_t row_bytes = id[5] * elem_size;
  const int32_t left = b[5], right = od[5] - b[5] - id[5];
  for (int32_t i0 = 0; i0 < od[0]; ++i0)
    for (int32_t i1 = 0; i1 < od[1]; ++i1)
      for (int32_t i2 = 0; i2 < od[2]; ++i2)
        for (int32_t i3 = 0; i3 < od[3]; ++i3)
          for (int32_t i4 = 0; i4 < od[4]; ++i4) {
            const int inside = td_inside(i0, b[0], id[0]) && td_inside(i1, b[1], id[1]) &&
                               td_inside(i2, b[2], id[2]) && td_inside(i3, b[3], id[3]) &&
                               td_inside(i4, b[4], id[4]);
            if (!inside) {
              td_fill(out, od[5], elem_size, pad_value);
              out += (size_t)od[5] * (size_t)elem_size;
              continue;
            }
            td_fill(out, left, elem_size, pad_value);
            out += (size_t)left * (size_t)elem_size;
            memcpy(out, in, (size_t)row_bytes);
            in += row_bytes;
            out += row_bytes;
            td_fill(out, right, elem_size, pad_value);
            out += (size_t)right * (size_t)elem_size;
          }
}
