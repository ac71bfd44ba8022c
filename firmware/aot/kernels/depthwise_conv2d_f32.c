/* depthwise_conv2d_f32.c - reference float depthwise convolution. */
#include "depthwise_conv2d_f32.h"

static float td_clamp_f32(float x, float lo, float hi) {
  const float a = x < lo ? lo : x;
  return hi < a ? hi : a;
}

void td_depthwise_conv2d_f32(const td_depthwise_conv2d_f32_params *p, const float *input, const float *filter,
                             const float *bias, float *output) {
  int32_t b, oy, ox, ic, m, ky, kx;
  for (b = 0; b < p->batches; ++b) {
    const float *in_b = input + (int32_t)b * p->in_h * p->in_w * p->in_c;
    for (oy = 0; oy < p->out_h; ++oy) {
      const int32_t in_y0 = oy * p->stride_h - p->pad_h;
      for (ox = 0; ox < p->out_w; ++ox) {
        const int32_t in_x0 = ox * p->stride_w - p->pad_w;
        for (ic = 0; ic < p->in_c; ++ic) {
          for (m = 0; m < p->depth_multiplier; ++m) {
            const int32_t oc = ic * p->depth_multiplier + m;
            float total = 0.0f;
            for (ky = 0; ky < p->k_h; ++ky) {
              const int32_t in_y = in_y0 + p->dil_h * ky;
              for (kx = 0; kx < p->k_w; ++kx) {
                const int32_t in_x = in_x0 + p->dil_w * kx;
                if (in_y < 0 || in_y >= p->in_h || in_x < 0 || in_x >= p->in_w) continue;
                total += in_b[(in_y * p->in_w + in_x) * p->in_c + ic] * filter[(ky * p->k_w + kx) * p->out_c + oc];
              }
            }
            output[((b * p->out_h + oy) * p->out_w + ox) * p->out_c + oc] =
                td_clamp_f32(total + (bias ? bias[oc] : 0.0f), p->act_min, p->act_max);
          }
        }
      }
    }
  }
}
