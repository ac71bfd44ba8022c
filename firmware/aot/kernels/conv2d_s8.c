/* conv2d_s8.c - reference int8 convolution (the exactness oracle for the optimized kernels).
 *
 * For each output element: acc = sum over the in-bounds window of filter * (input + input_offset), plus the
 * bias; then requantize with the channel's multiplier, add the output offset and clamp.  Padding positions
 * contribute nothing (not input_offset * filter), exactly as TFLM does.
 */
#include "conv2d_s8.h"

#include "td_fixedpoint.h"

void td_conv2d_s8(const td_conv2d_s8_params *p, const int8_t *input, const int8_t *filter, const int32_t *bias,
                  const int32_t *mult, const int32_t *shift, int8_t *output) {
  int32_t b, oy, ox, oc, ky, kx, ic;
  for (b = 0; b < p->batches; ++b) {
    const int8_t *in_b = input + (int32_t)b * p->in_h * p->in_w * p->in_c;
    for (oy = 0; oy < p->out_h; ++oy) {
      const int32_t in_y0 = oy * p->stride_h - p->pad_h;
      for (ox = 0; ox < p->out_w; ++ox) {
        const int32_t in_x0 = ox * p->stride_w - p->pad_w;
        for (oc = 0; oc < p->out_c; ++oc) {
          const int8_t *f_oc = filter + oc * p->k_h * p->k_w * p->in_c;
          int32_t acc = 0;
          for (ky = 0; ky < p->k_h; ++ky) {
            const int32_t in_y = in_y0 + p->dil_h * ky;
            if (in_y < 0 || in_y >= p->in_h) continue;
            for (kx = 0; kx < p->k_w; ++kx) {
              const int32_t in_x = in_x0 + p->dil_w * kx;
              const int8_t *in_px;
              const int8_t *f_px;
              if (in_x < 0 || in_x >= p->in_w) continue;
              in_px = in_b + (in_y * p->in_w + in_x) * p->in_c;
              f_px = f_oc + (ky * p->k_w + kx) * p->in_c;
              for (ic = 0; ic < p->in_c; ++ic) {
                acc += (int32_t)f_px[ic] * ((int32_t)in_px[ic] + p->input_offset);
              }
            }
          }
          if (bias) acc += bias[oc];
          acc = td_mul_by_quantized_multiplier(acc, mult[oc], shift[oc]);
          acc += p->output_offset;
          acc = td_clamp_i32(acc, p->act_min, p->act_max);
          *output++ = (int8_t)acc;
        }
      }
    }
  }
}
