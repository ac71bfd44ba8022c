/* conv2d_s8_opt.c - optimized int8 convolution (see conv2d_s8_opt.h).
 *
 * Per output pixel the filter window is clipped to the input once (no per-tap bounds checks).  A whole
 * window uses the folded bias and a plain int8 dot product; a clipped one (it meets the padding) uses the
 * plain bias and the dot product of (input + input_offset), which is the reference formula.  Each step
 * computes two output channels so that every input word is unpacked once for both.
 */
#include "conv2d_s8_opt.h"

#include "td_dot_s8.h"
#include "td_fixedpoint.h"

/* [first, end) of the filter taps t with 0 <= origin + dilation * t < size */
static void td_clip_taps(int32_t origin, int32_t dilation, int32_t taps, int32_t size, int32_t *first,
                         int32_t *end) {
  int32_t lo = 0, hi = taps;
  if (origin < 0) lo = (-origin + dilation - 1) / dilation;
  if (origin + dilation * (taps - 1) >= size) hi = origin >= size ? 0 : (size - 1 - origin) / dilation + 1;
  *first = lo;
  *end = hi > lo ? hi : lo;
}

/* 1x1 filter without padding: every window is whole and the convolution is a matrix product of pixels by
 * filters; two pixels x two channels per step reuse each unpacked word twice. */
static void td_conv2d_s8_pointwise(const td_conv2d_s8_params *p, const int8_t *input, const int8_t *filter,
                                   const int32_t *folded_bias, const int32_t *mult, const int32_t *shift,
                                   int8_t *output) {
  const int32_t pixels = p->batches * p->out_h * p->out_w;
  const int32_t n = p->in_c;
  int32_t px, oc;
  for (px = 0; px < pixels; px += 2) {
    const int two = px + 1 < pixels;
    const int8_t *x[2];
    int8_t *out0 = output + px * p->out_c;
    int8_t *out1 = out0 + p->out_c;
    int k;
    for (k = 0; k < 2; ++k) {
      const int32_t q = two || k == 0 ? px + k : px; /* the odd last pixel pairs with itself */
      const int32_t b = q / (p->out_h * p->out_w), rest = q % (p->out_h * p->out_w);
      const int32_t in_y = (rest / p->out_w) * p->stride_h, in_x = (rest % p->out_w) * p->stride_w;
      x[k] = input + ((b * p->in_h + in_y) * p->in_w + in_x) * n;
    }
    for (oc = 0; oc < p->out_c; oc += 2) {
      const int pair = oc + 1 < p->out_c;
      const int8_t *w0 = filter + oc * n;
      const int8_t *w1 = pair ? w0 + n : w0;
      int32_t acc[4];
      acc[0] = acc[2] = folded_bias[oc];
      acc[1] = acc[3] = pair ? folded_bias[oc + 1] : 0;
      td_dot2x2_s8(x[0], x[1], w0, w1, n, acc);
      out0[oc] = td_requant_s8(acc[0], mult[oc], shift[oc], p->output_offset, p->act_min, p->act_max);
      if (pair) out0[oc + 1] = td_requant_s8(acc[1], mult[oc + 1], shift[oc + 1], p->output_offset, p->act_min,
                                             p->act_max);
      if (two) {
        out1[oc] = td_requant_s8(acc[2], mult[oc], shift[oc], p->output_offset, p->act_min, p->act_max);
        if (pair) out1[oc + 1] = td_requant_s8(acc[3], mult[oc + 1], shift[oc + 1], p->output_offset, p->act_min,
                                               p->act_max);
      }
    }
  }
}

void td_conv2d_s8_opt(const td_conv2d_s8_params *params, const int8_t *input, const int8_t *filter, const int32_t *bias,
                      const int32_t *folded_bias, const int32_t *mult, const int32_t *shift, int8_t *output) {
  /* a local copy: stores through int8_t pointers may alias anything, so the compiler would reload
   * every parameter after each output store; a local whose address stays here cannot be aliased */
  const td_conv2d_s8_params local = *params;
  const td_conv2d_s8_params *const p = &local;
  const int32_t taps = p->k_h * p->k_w * p->in_c;
  const int32_t row_len = p->k_w * p->in_c;
  int32_t b, oy, ox, oc, ky, kx;
  if (p->k_h == 1 && p->k_w == 1 && p->pad_h == 0 && p->pad_w == 0 &&
      (p->out_h - 1) * p->stride_h < p->in_h && (p->out_w - 1) * p->stride_w < p->in_w) {
    td_conv2d_s8_pointwise(p, input, filter, folded_bias, mult, shift, output);
    return;
  }
  for (b = 0; b < p->batches; ++b) {
    const int8_t *in_b = input + b * p->in_h * p->in_w * p->in_c;
    for (oy = 0; oy < p->out_h; ++oy) {
      const int32_t in_y0 = oy * p->stride_h - p->pad_h;
      int32_t ky0, ky1;
      td_clip_taps(in_y0, p->dil_h, p->k_h, p->in_h, &ky0, &ky1);
      for (ox = 0; ox < p->out_w; ++ox) {
        const int32_t in_x0 = ox * p->stride_w - p->pad_w;
        int8_t *out = output + ((b * p->out_h + oy) * p->out_w + ox) * p->out_c;
        int32_t kx0, kx1, whole, offset, run, runs;
        td_clip_taps(in_x0, p->dil_w, p->k_w, p->in_w, &kx0, &kx1);
        whole = ky0 == 0 && ky1 == p->k_h && kx0 == 0 && kx1 == p->k_w;
        offset = whole ? 0 : p->input_offset;
        /* contiguous runs per filter row: the clipped row when dil_w == 1, else one tap's channels */
        run = p->dil_w == 1 ? (kx1 - kx0) * p->in_c : p->in_c;
        runs = p->dil_w == 1 ? (kx1 > kx0 ? 1 : 0) : kx1 - kx0;
        for (oc = 0; oc < p->out_c; oc += 2) {
          const int pair = oc + 1 < p->out_c;
          const int8_t *f0 = filter + oc * taps;
          const int8_t *f1 = pair ? f0 + taps : f0;
          int32_t acc0, acc1;
          if (whole) {
            acc0 = folded_bias[oc];
            acc1 = pair ? folded_bias[oc + 1] : 0;
          } else {
            acc0 = bias ? bias[oc] : 0;
            acc1 = bias && pair ? bias[oc + 1] : 0;
          }
          for (ky = ky0; ky < ky1; ++ky) {
            const int8_t *in_row = in_b + ((in_y0 + p->dil_h * ky) * p->in_w + in_x0 + p->dil_w * kx0) * p->in_c;
            const int32_t f_row = ky * row_len + kx0 * p->in_c;
            for (kx = 0; kx < runs; ++kx) {
              const int8_t *x = in_row + kx * p->dil_w * p->in_c;
              const int32_t f_off = f_row + kx * p->in_c;
              if (!pair) {
                acc0 = whole ? td_dot_s8(x, f0 + f_off, run, acc0) : td_dot_s8_off(x, f0 + f_off, run, offset, acc0);
              } else if (whole) {
                td_dot2_s8(x, f0 + f_off, f1 + f_off, run, &acc0, &acc1);
              } else {
                td_dot2_s8_off(x, f0 + f_off, f1 + f_off, run, offset, &acc0, &acc1);
              }
            }
          }
          out[oc] = td_requant_s8(acc0, mult[oc], shift[oc], p->output_offset, p->act_min, p->act_max);
          if (pair) {
            out[oc + 1] = td_requant_s8(acc1, mult[oc + 1], shift[oc + 1], p->output_offset, p->act_min, p->act_max);
          }
        }
      }
    }
  }
}
