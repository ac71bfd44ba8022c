/* max_pool.c - MAX_POOL_2D kernels; see max_pool.h. */
#include <float.h>

#include "max_pool.h"

static void td_max_window_bounds(int32_t origin, int32_t filter, int32_t size, int32_t *start, int32_t *end) {
  *start = origin < 0 ? -origin : 0;
  *end = size - origin < filter ? size - origin : filter;
}

void td_max_pool_s8(const int8_t *in, int8_t *out, const td_pool_geom *g, int32_t act_min, int32_t act_max) {
  const int32_t C = g->channels;
  for (int32_t b = 0; b < g->batches; ++b) {
    const int8_t *in_b = in + (int32_t)b * g->in_h * g->in_w * C;
    for (int32_t oy = 0; oy < g->out_h; ++oy) {
      const int32_t iy0 = oy * g->stride_h - g->pad_h;
      int32_t fy0, fy1;
      td_max_window_bounds(iy0, g->filter_h, g->in_h, &fy0, &fy1);
      for (int32_t ox = 0; ox < g->out_w; ++ox) {
        const int32_t ix0 = ox * g->stride_w - g->pad_w;
        int32_t fx0, fx1;
        td_max_window_bounds(ix0, g->filter_w, g->in_w, &fx0, &fx1);
        for (int32_t c = 0; c < C; ++c) {
          int32_t m = -128;
          for (int32_t fy = fy0; fy < fy1; ++fy) {
            const int8_t *row = in_b + ((iy0 + fy) * g->in_w + ix0) * C + c;
            for (int32_t fx = fx0; fx < fx1; ++fx) m = row[fx * C] > m ? row[fx * C] : m;
          }
          m = m < act_min ? act_min : (m > act_max ? act_max : m);
          *out++ = (int8_t)m;
        }
      }
    }
  }
}

void td_max_pool_f32(const float *in, float *out, const td_pool_geom *g, float act_min, float act_max) {
  const int32_t C = g->channels;
  for (int32_t b = 0; b < g->batches; ++b) {
    const float *in_b = in + (int32_t)b * g->in_h * g->in_w * C;
    for (int32_t oy = 0; oy < g->out_h; ++oy) {
      const int32_t iy0 = oy * g->stride_h - g->pad_h;
      int32_t fy0, fy1;
      td_max_window_bounds(iy0, g->filter_h, g->in_h, &fy0, &fy1);
      for (int32_t ox = 0; ox < g->out_w; ++ox) {
        const int32_t ix0 = ox * g->stride_w - g->pad_w;
        int32_t fx0, fx1;
        td_max_window_bounds(ix0, g->filter_w, g->in_w, &fx0, &fx1);
        for (int32_t c = 0; c < C; ++c) {
          float m = -FLT_MAX;
          for (int32_t fy = fy0; fy < fy1; ++fy) {
            const float *row = in_b + ((iy0 + fy) * g->in_w + ix0) * C + c;
            for (int32_t fx = fx0; fx < fx1; ++fx) m = row[fx * C] > m ? row[fx * C] : m;
          }
          m = m < act_min ? act_min : m;
          m = m > act_max ? act_max : m;
          *out++ = m;
        }
      }
    }
  }
}
