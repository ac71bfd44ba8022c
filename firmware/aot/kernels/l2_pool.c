/* l2_pool.c - L2 pooling; see l2_pool.h. */
#include "l2_pool.h"

#include <math.h>

static int32_t td_max32(int32_t a, int32_t b) { return a > b ? a : b; }
static int32_t td_min32(int32_t a, int32_t b) { return a < b ? a : b; }

void td_l2_pool_f32(const float *in, float *out, const td_pool_geom *g, float act_min, float act_max) {
  const int32_t c_n = g->channels;
  for (int32_t b = 0; b < g->batches; ++b)
    for (int32_t oy = 0; oy < g->out_h; ++oy)
      for (int32_t ox = 0; ox < g->out_w; ++ox) {
        const int32_t iy0 = oy * g->stride_h - g->pad_h, ix0 = ox * g->stride_w - g->pad_w;
        const int32_t fy0 = td_max32(0, -iy0), fy1 = td_min32(g->filter_h, g->in_h - iy0);
        const int32_t fx0 = td_max32(0, -ix0), fx1 = td_min32(g->filter_w, g->in_w - ix0);
        for (int32_t c = 0; c < c_n; ++c) {
          float sum = 0.0f;
          int32_t count = 0;
          for (int32_t fy = fy0; fy < fy1; ++fy)
            for (int32_t fx = fx0; fx < fx1; ++fx) {
              const float v = in[((b * g->in_h + iy0 + fy) * g->in_w + ix0 + fx) * c_n + c];
              sum += v * v;
              ++count;
            }
          float r = sqrtf(sum / (float)count);
          r = r < act_min ? act_min : r;
          r = r > act_max ? act_max : r;
          *out++ = r;
        }
      }
}
