/* avg_pool_s8_opt.c - single-window int8 average pooling (see the header). */
#include "avg_pool_s8_opt.h"

void td_global_avg_pool_s8(const td_global_pool_s8_params *p, const int8_t *in, int8_t *out) {
  const int32_t channels = p->channels, row = p->in_w * channels, count = p->filter_h * p->filter_w;
  int32_t b, c, y;
  for (b = 0; b < p->batches; ++b, in += p->in_h * row) {
    for (c = 0; c < channels; ++c) {
      int32_t acc = 0;
      for (y = 0; y < p->filter_h; ++y) {
        const int8_t *x = in + y * row + c;
        const int8_t *const end = x + p->filter_w * channels;
        for (; x != end; x += channels) acc += *x;
      }
      /* TFLM rounds the average half away from zero with truncating division */
      acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
      *out++ = (int8_t)(acc < p->act_min ? p->act_min : (acc > p->act_max ? p->act_max : acc));
    }
  }
}
