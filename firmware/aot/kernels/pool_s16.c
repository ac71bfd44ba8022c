/* pool_s16.c - int16 pooling kernels; see pool_s16.h. */
#include "pool_s16.h"

/* The in-bounds part [*start, *end) of a window that begins at `origin` in an axis of `size` samples. */
static void td_pool16_bounds(int32_t origin, int32_t filter, int32_t size, int32_t *start, int32_t *end) {
  *start = origin < 0 ? -origin : 0;
  *end = size - origin < filter ? size - origin : filter;
}

static void td_pool_s16(const int16_t *in, int16_t *out, const td_pool_geom *g, int32_t act_min, int32_t act_max,
                        int32_t average) {
  const int32_t C = g->channels;
  for (int32_t b = 0; b < g->batches; ++b) {
    const int16_t *in_b = in + (int32_t)b * g->in_h * g->in_w * C;
    for (int32_t oy = 0; oy < g->out_h; ++oy) {
      const int32_t iy0 = oy * g->stride_h - g->pad_h;
      int32_t fy0, fy1;
      td_pool16_bounds(iy0, g->filter_h, g->in_h, &fy0, &fy1);
      for (int32_t ox = 0; ox < g->out_w; ++ox) {
        const int32_t ix0 = ox * g->stride_w - g->pad_w;
        int32_t fx0, fx1;
        td_pool16_bounds(ix0, g->filter_w, g->in_w, &fx0, &fx1);
        const int32_t count = (fy1 - fy0) * (fx1 - fx0);
        for (int32_t c = 0; c < C; ++c) {
          int32_t acc = average ? 0 : INT16_MIN;
          for (int32_t fy = fy0; fy < fy1; ++fy) {
            const int16_t *row = in_b + ((iy0 + fy) * g->in_w + ix0) * C + c;
            for (int32_t fx = fx0; fx < fx1; ++fx) {
              const int32_t v = row[fx * C];
              acc = average ? acc + v : (v > acc ? v : acc);
            }
          }
          if (average && count > 0) {
            /* TFLM rounds the average half away from zero with truncating division. */
            acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
          }
          acc = acc < act_min ? act_min : (acc > act_max ? act_max : acc);
          *out++ = (int16_t)acc;
        }
      }
    }
  }
}

void td_avg_pool_s16(const int16_t *in, int16_t *out, const td_pool_geom *g, int32_t act_min, int32_t act_max) {
  td_pool_s16(in, out, g, act_min, act_max, 1);
}

void td_max_pool_s16(const int16_t *in, int16_t *out, const td_pool_geom *g, int32_t act_min, int32_t act_max) {
  td_pool_s16(in, out, g, act_min, act_max, 0);
}
