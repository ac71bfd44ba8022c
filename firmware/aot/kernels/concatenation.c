/* concatenation.c - CONCATENATION; see concatenation.h. */
#include "concatenation.h"

#include <string.h>

void td_concat_part(const void *src, void *dst, int32_t outer, int32_t chunk_bytes, int32_t out_row_bytes) {
  const uint8_t *in = (const uint8_t *)src;
  uint8_t *out = (uint8_t *)dst;
  for (int32_t o = 0; o < outer; ++o) {
    memcpy(out, in, (size_t)chunk_bytes);
    in += chunk_bytes;
    out += out_row_bytes;
  }
}
