/* depthwise_conv2d_s16.c - reference 16x8 depthwise convolution: per output channel, the sum over the
 * in-bounds window of filter * input (padding contributes nothing), then td_requant_s16. */
#include "depthwise_conv2d_s16.h"

#include "td_requant_s16.h"

void td_depthwise_conv2d_s16(const td_depthwise_conv2d_s16_params *p, const int16_t *input, const int8_t *filter,
                             const void *bias, const int32_t *mult, const int32_t *shift, int16_t *output) {
  int32_t b, oy, ox, ic, m, ky, kx;
  for (b = 0; b < p->batches; ++b) {
    const int16_t *in_b = input + (int32_t)b * p->in_h * p->in_w * p->in_c;
    for (oy = 0; oy < p->out_h; ++oy) {
      const int32_t in_y0 = oy * p->stride_h - p->pad_h;
      for (ox = 0; ox < p->out_w; ++ox) {
        const int32_t in_x0 = ox * p->stride_w - p->pad_w;
        for (ic = 0; ic < p->in_c; ++ic) {
          for (m = 0; m < p->depth_multiplier; ++m) {
            const int32_t oc = ic * p->depth_multiplier + m;
            int64_t acc = 0;
            for (ky = 0; ky < p->k_h; ++ky) {
              const int32_t in_y = in_y0 + p->dil_h * ky;
              if (in_y < 0 || in_y >= p->in_h) continue;
              for (kx = 0; kx < p->k_w; ++kx) {
                const int32_t in_x = in_x0 + p->dil_w * kx;
                if (in_x < 0 || in_x >= p->in_w) continue;
                acc += (int32_t)filter[(ky * p->k_w + kx) * p->out_c + oc] *
                       (int32_t)in_b[(in_y * p->in_w + in_x) * p->in_c + ic];
              }
            }
            *output++ = td_requant_s16(acc, bias, oc, p->bias_kind, mult[oc], shift[oc], p->act_min, p->act_max);
          }
        }
      }
    }
  }
}
