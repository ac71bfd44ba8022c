/* resize_bilinear.c - bilinear resize; see resize_bilinear.h. */
#include "resize_bilinear.h"

#include <stddef.h>

static size_t td_at(const td_resize_bilinear_geom *g, int32_t b, int32_t y, int32_t x) {
  return (((size_t)b * (size_t)g->in_h + (size_t)y) * (size_t)g->in_w + (size_t)x) * (size_t)g->depth;
}

void td_resize_bilinear_f32(const float *src, float *dst, const td_resize_bilinear_geom *g) {
  for (int32_t b = 0; b < g->batches; ++b)
    for (int32_t y = 0; y < g->out_h; ++y) {
      const int32_t y0 = g->y0[y], y1 = g->y1[y];
      const float dy = g->fy[y] - (float)y0;
      for (int32_t x = 0; x < g->out_w; ++x) {
        const int32_t x0 = g->x0[x], x1 = g->x1[x];
        const float dx = g->fx[x] - (float)x0;
        const float *p00 = src + td_at(g, b, y0, x0), *p10 = src + td_at(g, b, y1, x0);
        const float *p01 = src + td_at(g, b, y0, x1), *p11 = src + td_at(g, b, y1, x1);
        for (int32_t c = 0; c < g->depth; ++c) {
          /* TFLM's order of operations, term by term (no contraction: -ffp-contract=off) */
          *dst++ = p00[c] * (1 - dy) * (1 - dx) + p10[c] * dy * (1 - dx) + p01[c] * (1 - dy) * dx +
                   p11[c] * dy * dx;
        }
      }
    }
}

static int64_t td_blend_20(int64_t v00, int64_t v10, int64_t v01, int64_t v11, int32_t wy, int32_t wx) {
  /* wy, wx: the distance past the lower index in 1/1024 (may be negative at a clamped edge, as in TFLM) */
  const int64_t out = v00 * (1024 - wy) * (1024 - wx) + v10 * wy * (1024 - wx) + v01 * (1024 - wy) * wx +
                      v11 * wy * wx;
  const int64_t round = out > 0 ? (1 << 19) : -(1 << 19);
  return (out + round) / (1 << 20);
}

#define TD_DEFINE_RESIZE_BILINEAR_INT(NAME, T) /* one body per integer type */                        \
  void NAME(const T *src, T *dst, const td_resize_bilinear_geom *g) {                                 \
    for (int32_t b = 0; b < g->batches; ++b)                                                          \
      for (int32_t y = 0; y < g->out_h; ++y) {                                                        \
        const int32_t y0 = g->y0[y], y1 = g->y1[y], wy = g->qy[y] - 1024 * y0;                        \
        for (int32_t x = 0; x < g->out_w; ++x) {                                                      \
          const int32_t x0 = g->x0[x], x1 = g->x1[x], wx = g->qx[x] - 1024 * x0;                      \
          const T *p00 = src + td_at(g, b, y0, x0), *p10 = src + td_at(g, b, y1, x0);                 \
          const T *p01 = src + td_at(g, b, y0, x1), *p11 = src + td_at(g, b, y1, x1);                 \
          for (int32_t c = 0; c < g->depth; ++c)                                                      \
            *dst++ = (T)td_blend_20(p00[c], p10[c], p01[c], p11[c], wy, wx);                          \
        }                                                                                             \
      }                                                                                               \
  }

TD_DEFINE_RESIZE_BILINEAR_INT(td_resize_bilinear_s8, int8_t)
