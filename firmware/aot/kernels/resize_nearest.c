/* resize_nearest.c - nearest-neighbour resize by index tables; see resize_nearest.h. */
#include "resize_nearest.h"

#include <string.h>

void td_resize_nearest(const void *src, void *dst, const td_resize_nearest_geom *g) {
  const uint8_t *in = (const uint8_t *)src;
  uint8_t *out = (uint8_t *)dst;
  const size_t pixel = (size_t)g->pixel_bytes;
  const size_t row = (size_t)g->in_w * pixel;
  for (int32_t b = 0; b < g->batches; ++b) {
    const uint8_t *image = in + (size_t)b * (size_t)g->in_h * row;
    for (int32_t y = 0; y < g->out_h; ++y) {
      const uint8_t *src_row = image + (size_t)g->src_y[y] * row;
      for (int32_t x = 0; x < g->out_w; ++x) {
        memcpy(out, src_row + (size_t)g->src_x[x] * pixel, pixel);
        out += pixel;
      }
    }
  }
}
