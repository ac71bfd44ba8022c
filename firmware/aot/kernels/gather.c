/* gather.c - GATHER / GATHER_ND; see gather.h. */
#include "gather.h"

#include <string.h>

static int64_t td_index_at(const void *indices, int32_t index_bytes, int32_t i) {
  if (index_bytes == 8) return ((const int64_t *)indices)[i];
  return ((const int32_t *)indices)[i];
}

void td_gather(const void *params, const void *indices, void *out, const td_gather_geom *g) {
  const uint8_t *src = (const uint8_t *)params;
  uint8_t *dst = (uint8_t *)out;
  const size_t inner = (size_t)g->inner_bytes;
  for (int32_t b = 0; b < g->batch; ++b) {
    for (int32_t o = 0; o < g->outer; ++o) {
      const uint8_t *block = src + ((size_t)b * (size_t)g->outer + (size_t)o) * (size_t)g->axis_size * inner;
      for (int32_t i = 0; i < g->coords; ++i) {
        const int64_t idx = td_index_at(indices, g->index_bytes, b * g->coords + i);
        if (idx < 0 || idx >= g->axis_size) {
          memset(dst, 0, inner);
        } else {
          memcpy(dst, block + (size_t)idx * inner, inner);
        }
        dst += inner;
      }
    }
  }
}

void td_gather_nd(const void *params, const int32_t *indices, void *out, const td_gather_nd_geom *g) {
  const uint8_t *src = (const uint8_t *)params;
  uint8_t *dst = (uint8_t *)out;
  const size_t slice = (size_t)g->slice_bytes;
  for (int32_t s = 0; s < g->n_slices; ++s) {
    size_t offset = 0;
    int valid = 1;
    for (int32_t k = 0; k < g->depth; ++k) {
      const int32_t idx = indices[s * g->depth + k];
      if (idx < 0 || idx >= g->dims[k]) valid = 0;
      else offset += (size_t)idx * (size_t)g->strides[k];
    }
    if (valid) {
      memcpy(dst, src + offset, slice);
    } else {
      memset(dst, 0, slice);
    }
    dst += slice;
  }
}
