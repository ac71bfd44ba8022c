/* fill.c - one value repeated; see fill.h. */
#include "fill.h"

#include <string.h>

void td_fill(void *dst, int32_t elem_size, int32_t count, const void *value) {
  uint8_t *out = (uint8_t *)dst;
  uint8_t first[8];
  if (count <= 0 || elem_size <= 0 || elem_size > 8) return;
  memcpy(first, value, (size_t)elem_size); /* value may alias dst (FILL in place): read it once */
  if (elem_size == 1) {
    memset(out, first[0], (size_t)count);
    return;
  }
  for (int32_t i = 0; i < count; ++i) memcpy(out + (size_t)i * (size_t)elem_size, first, (size_t)elem_size);
}
