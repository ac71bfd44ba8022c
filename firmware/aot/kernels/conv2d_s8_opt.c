/* conv2d_s8_opt.c - optimized int8 convolution (see conv2d_s8_opt.h).
 *
 * Per output pixel the filter window is clipped to the input once (no per-tap bounds checks).  A whole
 * window uses the folded bias and a plain int8 dot product; a clipped one (it meets the padding) uses the
 * plain bias and the dot product of (input + input_offset), which is the reference formula.  Each step
 * computes two output channels so that every input word is unpacked once for both.
 */
#include "conv2d_s8_opt.h"

#include <string.h>

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

/* ---- td_conv2d_s8_gemm: pixels x packed filters (see the header) ---- */

/* The receptive field of output pixel q (batch-major linear index) as one contiguous row of k_h*k_w*in_c
 * values; positions outside the input hold the input zero point (-input_offset). */
static void td_im2col_row(const td_conv2d_s8_params *p, const int8_t *input, int32_t q, int8_t *row) {
  const int32_t plane = p->out_h * p->out_w;
  const int32_t b = q / plane, rest = q % plane;
  const int32_t in_y0 = (rest / p->out_w) * p->stride_h - p->pad_h;
  const int32_t in_x0 = (rest % p->out_w) * p->stride_w - p->pad_w;
  const int8_t zp = (int8_t)(-p->input_offset);
  const int8_t *in_b = input + b * p->in_h * p->in_w * p->in_c;
  const int32_t run = p->k_w * p->in_c;
  int32_t ky, kx;
  for (ky = 0; ky < p->k_h; ++ky, row += run) {
    const int32_t in_y = in_y0 + p->dil_h * ky;
    const int8_t *in_row = in_b + in_y * p->in_w * p->in_c;
    if (in_y < 0 || in_y >= p->in_h) {
      memset(row, zp, (size_t)run);
    } else if (p->dil_w == 1 && in_x0 >= 0 && in_x0 + p->k_w <= p->in_w) {
      memcpy(row, in_row + in_x0 * p->in_c, (size_t)run);
    } else {
      for (kx = 0; kx < p->k_w; ++kx) {
        const int32_t in_x = in_x0 + p->dil_w * kx;
        if (in_x < 0 || in_x >= p->in_w) {
          memset(row + kx * p->in_c, zp, (size_t)p->in_c);
        } else {
          memcpy(row + kx * p->in_c, in_row + in_x * p->in_c, (size_t)p->in_c);
        }
      }
    }
  }
}

/* The input of output pixel q for an unpadded 1x1 filter: read in place. */
static const int8_t *td_pointwise_row(const td_conv2d_s8_params *p, const int8_t *input, int32_t q) {
  const int32_t plane = p->out_h * p->out_w;
  const int32_t b = q / plane, rest = q % plane;
  const int32_t in_y = (rest / p->out_w) * p->stride_h, in_x = (rest % p->out_w) * p->stride_w;
  return input + ((b * p->in_h + in_y) * p->in_w + in_x) * p->in_c;
}

/* One requantization per instantiation (fast: td_requant_mul_fast's preconditions hold for every channel),
 * so the output loop carries no per-value branch. */
TD_INLINE int8_t td_gemm_requant(int32_t acc, int32_t mult, int32_t shift, const td_conv2d_s8_params *p,
                                 const int fast) {
  return fast ? td_requant_fast_s8(acc, mult, shift, p->output_offset, p->act_min, p->act_max)
              : td_requant_s8(acc, mult, shift, p->output_offset, p->act_min, p->act_max);
}

TD_INLINE void td_conv2d_s8_gemm_impl(const td_conv2d_s8_params *params, const int8_t *input, const int8_t *packed,
                                      const int32_t *folded_bias, const int32_t *mult, const int32_t *shift,
                                      int8_t *output, int8_t *scratch, const int fast) {
  /* a local copy: stores through int8_t pointers may alias anything, so the compiler would reload
   * every parameter after each output store; a local whose address stays here cannot be aliased */
  const td_conv2d_s8_params local = *params;
  const td_conv2d_s8_params *const p = &local;
  const int32_t n = p->k_h * p->k_w * p->in_c;
  const int32_t pixels = p->batches * p->out_h * p->out_w;
  const int32_t out_c = p->out_c;
  const int in_place = scratch == NULL;
  int32_t q, oc;
  for (q = 0; q < pixels; q += 2) {
    const int two = q + 1 < pixels;
    const int8_t *x0, *x1;
    int8_t *out0 = output + q * out_c;
    int8_t *out1 = out0 + out_c;
    if (in_place) {
      x0 = td_pointwise_row(p, input, q);
      x1 = two ? td_pointwise_row(p, input, q + 1) : x0;
    } else {
      td_im2col_row(p, input, q, scratch);
      if (two) td_im2col_row(p, input, q + 1, scratch + n);
      x0 = scratch;
      x1 = two ? scratch + n : scratch;
    }
    for (oc = 0; oc < out_c; oc += 2) {
      const int pair = oc + 1 < out_c; /* an odd last channel is packed with a zero partner */
      int32_t acc[4];
      acc[0] = acc[2] = folded_bias[oc];
      acc[1] = acc[3] = pair ? folded_bias[oc + 1] : 0;
      td_mm2x2_packed_s8(x0, x1, packed + oc * n, n, acc);
      out0[oc] = td_gemm_requant(acc[0], mult[oc], shift[oc], p, fast);
      if (two) out1[oc] = td_gemm_requant(acc[2], mult[oc], shift[oc], p, fast);
      if (pair) {
        out0[oc + 1] = td_gemm_requant(acc[1], mult[oc + 1], shift[oc + 1], p, fast);
        if (two) {
          out1[oc + 1] = td_gemm_requant(acc[3], mult[oc + 1], shift[oc + 1], p, fast);
        }
      }
    }
  }
}

void td_conv2d_s8_gemm(const td_conv2d_s8_params *params, const int8_t *input, const int8_t *packed,
                       const int32_t *folded_bias, const int32_t *mult, const int32_t *shift, int8_t *output,
                       int8_t *scratch, int32_t fast_requant) {
  if (fast_requant) {
    td_conv2d_s8_gemm_impl(params, input, packed, folded_bias, mult, shift, output, scratch, 1);
  } else {
    td_conv2d_s8_gemm_impl(params, input, packed, folded_bias, mult, shift, output, scratch, 0);
  }
}
