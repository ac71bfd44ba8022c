/* avg_pool_s8_opt.c - single-window int8 average pooling (see the header). */
#include "avg_pool_s8_opt.h"

void td_global_avg_pool_s8(const td_global_pool_s8_params *p, const int8_t *in, int8_t *out) {
  /* the window's rows span the input's width, so its pixels are consecutive: one strided loop per channel */
  const int32_t channels = p->channels, count = p->filter_h * p->in_w, span = count * channels;
  int32_t b, c;
  for (b = 0; b < p->batches; ++b, in += p->in_h * p->in_w * channels) {
    for (c = 0; c < channels; ++c) {
      const int8_t *x = in + c;
      const int8_t *const end = x + span;
      int32_t acc = 0;
      for (; x != end; x += channels) acc += *x;
      /* TFLM rounds the average half away from zero with truncating division */
      acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
      *out++ = (int8_t)(acc < p->act_min ? p->act_min : (acc > p->act_max ? p->act_max : acc));
    }
  }
}
