/* conv2d_s8_opt.c - optimized int8 convolutions (see conv2d_s8_opt.h).
 *
 * td_conv2d_s8_gemm (cores without Helium; weights packed offline, see the bottom half) and
 * td_conv2d_s8_opt (Helium builds), described here:
 * per output pixel the filter window is clipped to the input once (no per-tap bounds checks).  A whole
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

/* len bytes copied from src, or len copies of value when src is NULL: the C library's block copy and fill,
 * which the firmware links anyway (the runs are a filter row or one tap's channels of a first layer). */
static void td_put_s8(int8_t *dst, const int8_t *src, int8_t value, int32_t len) {
  if (src) {
    memcpy(dst, src, (size_t)len);
  } else {
    memset(dst, value, (size_t)len);
  }
}

/* The receptive field of output pixel q (batch-major linear index) as one contiguous row of k_h*k_w*in_c
 * values, zero-padded to a multiple of 4 (the packed filter has zero columns there); positions outside the
 * input hold the input zero point (-input_offset). */
static __attribute__((noinline)) void td_im2col_row(const td_conv2d_s8_params *p, const int8_t *input, int32_t q,
                                                     int8_t *row) {
  const int32_t plane = p->out_h * p->out_w;
  const int32_t b = q / plane, rest = q % plane;
  const int32_t in_y0 = (rest / p->out_w) * p->stride_h - p->pad_h;
  const int32_t in_x0 = (rest % p->out_w) * p->stride_w - p->pad_w;
  const int8_t zp = (int8_t)(-p->input_offset);
  const int8_t *in_b = input + b * p->in_h * p->in_w * p->in_c;
  const int32_t c = p->in_c, run = p->k_w * c, n = p->k_h * run;
  const int whole_x = p->dil_w == 1 && in_x0 >= 0 && in_x0 + p->k_w <= p->in_w;
  int32_t ky, kx;
  td_put_s8(row + n, NULL, 0, ((n + 3) & ~3) - n);
  for (ky = 0; ky < p->k_h; ++ky, row += run) {
    const int32_t in_y = in_y0 + p->dil_h * ky;
    const int8_t *in_row = in_b + in_y * p->in_w * c;
    if (in_y < 0 || in_y >= p->in_h || whole_x) { /* one run: all padding, or all inside */
      td_put_s8(row, in_y < 0 || in_y >= p->in_h ? NULL : in_row + in_x0 * c, zp, run);
      continue;
    }
    for (kx = 0; kx < p->k_w; ++kx) {
      const int32_t in_x = in_x0 + p->dil_w * kx;
      td_put_s8(row + kx * c, in_x < 0 || in_x >= p->in_w ? NULL : in_row + in_x * c, zp, c);
    }
  }
}

/* The receptive fields of output pixels q0 and q1 as pieces both pixels share (a multiple of in_c long):
 * a whole filter row where each pixel's row lies wholly inside the input or wholly outside it
 * (zp_row), else one piece per tap.  A tap outside the input reads zp_row, the input zero point
 * (x + input_offset = 0: padding contributes nothing, as in the reference).  At most k_h * k_w pieces. */
int32_t td_conv_fetch_pieces(const td_conv2d_s8_params *p, const int8_t *input, int32_t q0, int32_t q1,
                             int8_t *zp_row, td_seg2 *seg) {
  const int32_t plane = p->out_h * p->out_w, c = p->in_c;
  const int8_t *in_b[2];
  int32_t in_y0[2], in_x0[2], full_x[2];
  int32_t k, ky, kx, nseg = 0;
  for (k = 0; k < 2; ++k) {
    const int32_t q = k ? q1 : q0, b = q / plane, rest = q % plane;
    in_b[k] = input + b * p->in_h * p->in_w * c;
    in_y0[k] = (rest / p->out_w) * p->stride_h - p->pad_h;
    in_x0[k] = (rest % p->out_w) * p->stride_w - p->pad_w;
    full_x[k] = p->dil_w == 1 && in_x0[k] >= 0 && in_x0[k] + p->k_w <= p->in_w;
  }
  for (ky = 0; ky < p->k_h; ++ky) {
    /* a whole filter row (as one piece) unless a pixel's row is inside the input but cut at its sides */
    int32_t whole = 1;
    const int8_t *row[2];
    for (k = 0; k < 2; ++k) {
      const int32_t y = in_y0[k] + p->dil_h * ky;
      row[k] = y >= 0 && y < p->in_h ? in_b[k] + y * p->in_w * c : NULL;
      whole &= !row[k] || full_x[k];
    }
    for (kx = 0; kx < (whole ? 1 : p->k_w); ++kx, ++nseg) {
      const int8_t *x[2];
      for (k = 0; k < 2; ++k) {
        const int32_t in_x = in_x0[k] + p->dil_w * kx;
        x[k] = row[k] && (whole || (in_x >= 0 && in_x < p->in_w)) ? row[k] + in_x * c : zp_row;
      }
      seg[nseg].x0 = x[0];
      seg[nseg].x1 = x[1];
      seg[nseg].len = whole ? p->k_w * c : c;
    }
  }
  return nseg;
}

/* ---- the three ways to reach a pixel pair's receptive fields (td_conv_fetch, see the header) ---- */

int32_t td_conv_fetch_rows(const td_conv2d_s8_params *p, const int8_t *input, int32_t q0, int32_t q1, int8_t *aux,
                           td_seg2 *seg) {
  (void)aux;
  seg->x0 = input + q0 * p->in_c;
  seg->x1 = input + q1 * p->in_c;
  seg->len = p->in_c;
  return 1;
}

int32_t td_conv_fetch_pointwise(const td_conv2d_s8_params *p, const int8_t *input, int32_t q0, int32_t q1,
                                int8_t *aux, td_seg2 *seg) {
  const int32_t plane = p->out_h * p->out_w;
  const int8_t *x[2];
  int32_t k;
  (void)aux;
  for (k = 0; k < 2; ++k) {
    const int32_t q = k ? q1 : q0, b = q / plane, rest = q % plane;
    const int32_t in_y = (rest / p->out_w) * p->stride_h, in_x = (rest % p->out_w) * p->stride_w;
    x[k] = input + ((b * p->in_h + in_y) * p->in_w + in_x) * p->in_c;
  }
  seg->x0 = x[0];
  seg->x1 = x[1];
  seg->len = p->in_c;
  return 1;
}

int32_t td_conv_fetch_im2col(const td_conv2d_s8_params *p, const int8_t *input, int32_t q0, int32_t q1,
                             int8_t *aux, td_seg2 *seg) {
  const int32_t n = (p->k_h * p->k_w * p->in_c + 3) & ~3;
  const int32_t rows = q1 != q0 ? 2 : 1;
  int32_t k;
  for (k = 0; k < rows; ++k) td_im2col_row(p, input, k ? q1 : q0, aux + k * n);
  seg->x0 = aux;
  seg->x1 = aux + (rows - 1) * n;
  seg->len = n;
  return 1;
}

/* Output channels per requantization block: the accumulators of 2 pixels x TD_GEMM_BLOCK channels go to
 * the stack (128 bytes), then the layer's requantization loop (rq->row) turns each pixel's block into int8. */
#define TD_GEMM_BLOCK 16

#if defined(TD_DOT_DSP)
/* Cores with the DSP extension: a pixel pair's receptive fields are widened to int16 once (td_widen_pair),
 * then every output-channel pair reads them as ready SMLAD operands: the sign extensions of the input are
 * paid once per pixel pair instead of once per channel pair.
 *
 * x16 layout, per 4-value group: {e0, o0, e1, o1}: pixel 0's values 0 and 2 as signed halfwords (SXTB16),
 * its values 1 and 3 (SXTB16 ROR 8), then pixel 1's.  The pieces' values run on across groups (pieces of
 * any length: few input channels), the last group zero-padded; the packed filter has zero columns there
 * (conv2d.py pads every row to a multiple of 8), and a zero group makes their number even.  Returns the
 * number of groups. */
TD_INLINE uint32_t *td_put_group(uint32_t *x16, uint32_t va, uint32_t vb) {
  x16[0] = td_sxtb16(va);
  x16[1] = td_sxtb16_ror8(va);
  x16[2] = td_sxtb16(vb);
  x16[3] = td_sxtb16_ror8(vb);
  return x16 + 4;
}

static __attribute__((noinline)) int32_t td_widen_pair(const td_seg2 *seg, int32_t nseg, uint32_t *x16) {
  static const int8_t zeros[8] = {0};
  uint32_t *const start = x16;
  uint32_t va = 0, vb = 0; /* a group's bytes gathered across pieces whose lengths are not multiples of 4 */
  int32_t k, fill = 0, len;
  for (k = 0; k <= nseg; ++k) {
    const int8_t *a = k < nseg ? seg[k].x0 : zeros;
    const ptrdiff_t d = k < nseg ? seg[k].x1 - seg[k].x0 : 0;
    /* after the pieces, zeros up to an even number of whole groups (the kernel takes two at a time) */
    len = k < nseg ? seg[k].len : (-((int32_t)(x16 - start) + fill)) & 7; /* 4 words: 4 values */
    if (fill == 0) { /* whole groups read as words */
      const int8_t *const end = a + (len & ~3);
#if defined(__ARM_FEATURE_DSP) && !defined(TD_EMULATE_DSP)
      if (a != end) { /* 10 instructions per group */
        uint32_t A, B, E0, O0, E1, O1;
        __asm__ volatile("1:\n\t"
                         "ldr %[A], [%[a], %[d]]\n\t"
                         "ldr %[B], [%[a]], #4\n\t"
                         "sxtb16 %[E0], %[B]\n\t"
                         "sxtb16 %[O0], %[B], ror #8\n\t"
                         "sxtb16 %[E1], %[A]\n\t"
                         "sxtb16 %[O1], %[A], ror #8\n\t"
                         "strd %[E0], %[O0], [%[x]], #16\n\t"
                         "strd %[E1], %[O1], [%[x], #-8]\n\t"
                         "cmp %[a], %[end]\n\t"
                         "bne 1b\n\t"
                         : [a] "+r"(a), [x] "+r"(x16), [A] "=&r"(A), [B] "=&r"(B), [E0] "=&r"(E0),
                           [O0] "=&r"(O0), [E1] "=&r"(E1), [O1] "=&r"(O1)
                         : [d] "r"(d), [end] "r"(end)
                         : "cc", "memory");
      }
#else
      for (; a != end; a += 4) x16 = td_put_group(x16, td_load4(a), td_load4(a + d));
#endif
      len &= 3;
    }
    for (; len > 0; --len, ++a) {
      va |= (uint32_t)(uint8_t)a[0] << (8 * fill);
      vb |= (uint32_t)(uint8_t)a[d] << (8 * fill);
      if (++fill == 4) {
        x16 = td_put_group(x16, va, vb);
        va = vb = 0;
        fill = 0;
      }
    }
  }
  return (int32_t)(x16 - start) / 4;
}

/* Where a pixel pair's outputs go and how they are requantized (td_conv_pair_fast / _rq). */
struct td_gemm_out {
  int8_t *out0, *out1; /* out1 == out0 for a lone last pixel: the same values written twice */
  const td_requant *rq;
  int32_t out_c, out_offset, lo, hi;
};

/* Every output channel of a pixel pair: the packed filter w (pack_pairs: per 4-value group, 4 bytes of
 * channel 0 then 4 of channel 1, an odd last channel with a zero partner) against the widened pixel pair
 * x16 of `groups` groups (even, at least 2), from the folded bias, requantized as soon as a channel pair's
 * four accumulators are done: `fused`, in registers with the fast table (rq->table) for an output range of
 * all of int8 (one saturation); else through rq->row.  Instantiated once each way (td_conv_pair_fast,
 * td_conv_pair_rq), so that a firmware links only the ones its layers name; out of line, so that the loop
 * around the assembly has the registers to itself. */
TD_INLINE void td_conv_pair(const uint32_t *x16, int32_t groups, const int8_t *w, const int32_t *bias,
                            const td_gemm_out *o, const int fused) {
  const int32_t out_c = o->out_c;
  int32_t c;
  for (c = 0; c < out_c; c += 2, bias += 2) {
    int32_t a00 = bias[0], a01 = bias[1], a10 = bias[0], a11 = bias[1];
    const int pair = c + 1 < out_c;
#if defined(__ARM_FEATURE_DSP) && !defined(TD_EMULATE_DSP)
    const uint32_t *px = x16;
    const uint32_t *const end = x16 + 4 * groups;
    uint32_t W, V;
    /* a group's four input words in one LDM: its registers must ascend, hence named */
    register uint32_t E0 __asm__("r8"), O0 __asm__("r9"), E1 __asm__("r10"), O1 __asm__("r11");
    /* one group: 16 MACs in 15 instructions, the input operands loaded ready */
#define TD_X16_STEP                                 \
  "ldmia %[px]!, {r8, r9, r10, r11}\n\t"             \
  "ldr %[W], [%[pw]], #4\n\t"                        \
  "sxtb16 %[V], %[W]\n\t"                            \
  "smlad %[a00], %[E0], %[V], %[a00]\n\t"            \
  "smlad %[a10], %[E1], %[V], %[a10]\n\t"            \
  "sxtb16 %[W], %[W], ror #8\n\t"                    \
  "smlad %[a00], %[O0], %[W], %[a00]\n\t"            \
  "smlad %[a10], %[O1], %[W], %[a10]\n\t"            \
  "ldr %[W], [%[pw]], #4\n\t"                        \
  "sxtb16 %[V], %[W]\n\t"                            \
  "smlad %[a01], %[E0], %[V], %[a01]\n\t"            \
  "smlad %[a11], %[E1], %[V], %[a11]\n\t"            \
  "sxtb16 %[W], %[W], ror #8\n\t"                    \
  "smlad %[a01], %[O0], %[W], %[a01]\n\t"            \
  "smlad %[a11], %[O1], %[W], %[a11]\n\t"
    __asm__ volatile("1:\n\t" TD_X16_STEP TD_X16_STEP "cmp %[px], %[end]\n\tbne 1b\n\t"
                     : [px] "+r"(px), [pw] "+r"(w), [a00] "+r"(a00), [a01] "+r"(a01), [a10] "+r"(a10),
                       [a11] "+r"(a11), [E0] "=&r"(E0), [O0] "=&r"(O0), [E1] "=&r"(E1), [O1] "=&r"(O1),
                       [W] "=&r"(W), [V] "=&r"(V)
                     : [end] "r"(end)
                     : "cc", "memory");
#undef TD_X16_STEP
#else
    const uint32_t *px = x16;
    int32_t g;
    for (g = 0; g < groups; ++g, px += 4, w += 8) {
      const uint32_t v0 = td_load4(w), v1 = td_load4(w + 4);
      const uint32_t e0 = td_sxtb16(v0), o0 = td_sxtb16_ror8(v0), e1 = td_sxtb16(v1), o1 = td_sxtb16_ror8(v1);
      a00 = td_smlad(px[1], o0, td_smlad(px[0], e0, a00));
      a10 = td_smlad(px[3], o0, td_smlad(px[2], e0, a10));
      a01 = td_smlad(px[1], o1, td_smlad(px[0], e1, a01));
      a11 = td_smlad(px[3], o1, td_smlad(px[2], e1, a11));
    }
#endif
    if (fused) { /* pixel 1 first: out1 may be out0 (the same values) */
      const int32_t *const tc = o->rq->table + 3 * c;
      int8_t *const p0 = o->out0 + c, *const p1 = o->out1 + c;
      int32_t m = tc[0], e = tc[1], k = tc[2];
      p1[0] = td_sat_s8(td_requant_mke(a10, m, e, k));
      p0[0] = td_sat_s8(td_requant_mke(a00, m, e, k));
      if (pair) {
        m = tc[3];
        e = tc[4];
        k = tc[5];
        p1[1] = td_sat_s8(td_requant_mke(a11, m, e, k));
        p0[1] = td_sat_s8(td_requant_mke(a01, m, e, k));
      }
    } else {
      int32_t acc[2];
      const int32_t m = pair ? 2 : 1;
      acc[0] = a10;
      acc[1] = a11;
      o->rq->row(acc, m, o->rq, c, o->out_offset, o->lo, o->hi, o->out1 + c);
      acc[0] = a00;
      acc[1] = a01;
      o->rq->row(acc, m, o->rq, c, o->out_offset, o->lo, o->hi, o->out0 + c);
    }
  }
}

void td_conv_pair_fast(const uint32_t *x16, int32_t groups, const int8_t *w, const int32_t *bias,
                       const td_gemm_out *o) {
  td_conv_pair(x16, groups, w, bias, o, 1);
}

void td_conv_pair_rq(const uint32_t *x16, int32_t groups, const int8_t *w, const int32_t *bias,
                     const td_gemm_out *o) {
  td_conv_pair(x16, groups, w, bias, o, 0);
}

/* td_conv_pair_fused: td_conv_pair_fast for an even number of output channels, with the bias and the fast
 * table interleaved per channel pair by the generator (conv2d.py: fused_records), ten words:
 *   {b0, b1, b0, b1, m0, e0, k0, m1, e1, k1}
 * (the folded biases twice: they start both pixels' accumulators in one load; then channel c's and c+1's
 * td_requant_mke entries).  The last pair's e1 carries TD_FUSED_LAST (bit 8): the end of the loop without a
 * counter -- a register shift uses only the low byte of its amount, so the flag does not change the shift.
 * The whole channel loop and the requantization are one assembly block with every value in a register: the
 * compiled td_conv_pair_fast spent ~60 instructions per channel pair outside its multiply loop reloading
 * spilled pointers; this one spends 36.  The requantization is td_requant_mke with the sign fix taken from
 * the accumulator instead of the high half (they differ only where the high half is 0, where both give
 * out_offset) and folded into SMMLAR's accumulate operand:
 *   out = ssat8((SMMLAR(2 acc, m, k + (acc < 0 ? -1 : 0))) >> e). */
#define TD_FUSED_LAST 256
#if defined(__ARM_FEATURE_DSP) && !defined(TD_EMULATE_DSP)
/* registers: r0 x16 (pointer), r1-r4 the accumulators a00 a01 a10 a11 (pixel, channel), r5-r8 a group of x16
 * {e0, o0, e1, o1}, r9/r10/r12 weight words, r11 the packed weights, lr the end of x16; during the
 * requantization r5-r7 {m, e, k}, r8 the sign-fixed k, r9/r10 the two output pointers, r12 the records.
 * The stack holds {x16, out0, out1, records}: one LDM brings them back after the multiply loop.  Naked (the
 * compiler's call graph sees no frame): its 52 bytes stay within what flash/stack.py charges an indirect
 * call, at least LIBRARY_FRAME (128 B), and it is only ever called through op->pair. */
#define TD_FUSED_GROUP                 \
  "ldm r0!, {r5, r6, r7, r8}\n\t"     \
  "ldm r11!, {r9, r10}\n\t"           \
  "sxtb16 r12, r9\n\t"                \
  "smlad r1, r5, r12, r1\n\t"         \
  "smlad r3, r7, r12, r3\n\t"         \
  "sxtb16 r9, r9, ror #8\n\t"         \
  "smlad r1, r6, r9, r1\n\t"          \
  "smlad r3, r8, r9, r3\n\t"          \
  "sxtb16 r12, r10\n\t"               \
  "smlad r2, r5, r12, r2\n\t"         \
  "smlad r4, r7, r12, r4\n\t"         \
  "sxtb16 r10, r10, ror #8\n\t"       \
  "smlad r2, r6, r10, r2\n\t"         \
  "smlad r4, r8, r10, r4\n\t"
/* one channel of both pixels: acc registers A (pixel 0) and B (pixel 1) */
#define TD_FUSED_REQUANT(A, B)            \
  "ldm r12!, {r5, r6, r7}\n\t"            \
  "add r8, r7, " A ", asr #31\n\t"        \
  "lsl " A ", " A ", #1\n\t"              \
  "smmlar " A ", " A ", r5, r8\n\t"       \
  "asr " A ", " A ", r6\n\t"              \
  "ssat " A ", #8, " A "\n\t"             \
  "strb " A ", [r9], #1\n\t"              \
  "add r8, r7, " B ", asr #31\n\t"        \
  "lsl " B ", " B ", #1\n\t"              \
  "smmlar " B ", " B ", r5, r8\n\t"       \
  "asr " B ", " B ", r6\n\t"              \
  "ssat " B ", #8, " B "\n\t"             \
  "strb " B ", [r10], #1\n\t"
/* the arguments arrive in r0-r3 and on the stack (AAPCS); the body names them by register */
#define TD_ASM_ARG __attribute__((unused))
__attribute__((naked)) void td_conv_pair_fused(TD_ASM_ARG const uint32_t *x16, TD_ASM_ARG int32_t groups,
                                               TD_ASM_ARG const int8_t *w, TD_ASM_ARG const int32_t *rec,
                                               TD_ASM_ARG const td_gemm_out *o) {
  __asm__ volatile(
      "push {r4-r11, lr}\n\t"
      "ldr r4, [sp, #36]\n\t" /* o, the fifth argument */
      "add lr, r0, r1, lsl #4\n\t"
      "mov r11, r2\n\t"
      "mov r12, r3\n\t"
      "ldrd r9, r10, [r4]\n\t" /* o->out0, o->out1 */
      "sub sp, sp, #16\n\t"
      "stm sp, {r0, r9, r10}\n\t"
      "1:\n\t"
      "ldm r12!, {r1, r2, r3, r4}\n\t"
      "str r12, [sp, #12]\n\t"
      "2:\n\t" TD_FUSED_GROUP TD_FUSED_GROUP
      "cmp r0, lr\n\t"
      "bne 2b\n\t"
      "ldm sp, {r0, r9, r10, r12}\n\t" TD_FUSED_REQUANT("r1", "r3") TD_FUSED_REQUANT("r2", "r4")
      "strd r9, r10, [sp, #4]\n\t"
      "tst r6, #256\n\t" /* TD_FUSED_LAST */
      "beq 1b\n\t"
      "add sp, sp, #16\n\t"
      "pop {r4-r11, pc}\n\t");
}
#undef TD_FUSED_GROUP
#undef TD_FUSED_REQUANT
#undef TD_ASM_ARG
#else
void td_conv_pair_fused(const uint32_t *x16, int32_t groups, const int8_t *w, const int32_t *rec,
                        const td_gemm_out *o) {
  int8_t *p0 = o->out0, *p1 = o->out1;
  int32_t last;
  do {
    int32_t a[4] = {rec[0], rec[1], rec[2], rec[3]}; /* a00 a01 a10 a11 */
    const uint32_t *px = x16;
    int32_t g, c;
    for (g = 0; g < groups; ++g, px += 4, w += 8) {
      const uint32_t v0 = td_load4(w), v1 = td_load4(w + 4);
      const uint32_t e0 = td_sxtb16(v0), o0 = td_sxtb16_ror8(v0), e1 = td_sxtb16(v1), o1 = td_sxtb16_ror8(v1);
      a[0] = td_smlad(px[1], o0, td_smlad(px[0], e0, a[0]));
      a[2] = td_smlad(px[3], o0, td_smlad(px[2], e0, a[2]));
      a[1] = td_smlad(px[1], o1, td_smlad(px[0], e1, a[1]));
      a[3] = td_smlad(px[3], o1, td_smlad(px[2], e1, a[3]));
    }
    for (c = 0; c < 2; ++c) {
      const int32_t *t = rec + 4 + 3 * c;
      const int32_t e = t[1] & (TD_FUSED_LAST - 1);
      int32_t k;
      for (k = 0; k < 2; ++k) { /* pixel 0 then pixel 1: out1 may be out0 (the same values) */
        const int32_t acc = a[2 * k + c];
        const int32_t v = (td_high_mul_fast(acc, t[0]) + t[2] + (acc < 0 ? -1 : 0)) >> e;
        *(k ? p1++ : p0++) = td_sat_s8(v);
      }
    }
    last = rec[8] & TD_FUSED_LAST;
    rec += 10;
  } while (!last);
}
#endif
#endif

#if !defined(TD_DOT_DSP) || defined(TD_EMULATE_DSP)
/* The portable GEMM loop: pieces read in place (td_mm2x2_segs_s8), TD_GEMM_BLOCK channels' accumulators
 * of both pixels stored, then requantized by rq->row.  Cores without the DSP extension; host builds that
 * emulate it run it for layers the generator lowered for a generic target (op->pair NULL). */
static void td_conv_gemm_portable(const td_conv2d_s8_params *p, const int8_t *input, td_conv_fetch fetch,
                                  int8_t *aux,
                                  td_seg2 *seg, const int8_t *packed, const int32_t *folded_bias,
                                  const td_requant *rq, int8_t *output) {
  const int32_t pixels = p->batches * p->out_h * p->out_w, out_c = p->out_c;
  const int32_t n = (p->k_h * p->k_w * p->in_c + 7) & ~7;
  int32_t q, oc0, oc;
  int32_t acc[2 * TD_GEMM_BLOCK];
  for (q = 0; q < pixels; q += 2) {
    const int two = q + 1 < pixels;
    int8_t *out0 = output + q * out_c;
    int8_t *out1 = out0 + out_c;
    const int32_t nseg = fetch(p, input, q, two ? q + 1 : q, aux, seg);
    for (oc0 = 0; oc0 < out_c; oc0 += TD_GEMM_BLOCK) {
      const int32_t count = out_c - oc0 < TD_GEMM_BLOCK ? out_c - oc0 : TD_GEMM_BLOCK;
      /* an odd last channel is packed with a zero partner (folded_bias padded likewise), whose
       * accumulators land in the spare slot */
      for (oc = 0; oc < count; oc += 2) {
        int32_t a[4];
        a[0] = a[2] = folded_bias[oc0 + oc];
        a[1] = a[3] = folded_bias[oc0 + oc + 1];
        td_mm2x2_segs_s8(seg, nseg, packed + (oc0 + oc) * n, a);
        acc[oc] = a[0];
        acc[oc + 1] = a[1];
        acc[TD_GEMM_BLOCK + oc] = a[2];
        acc[TD_GEMM_BLOCK + oc + 1] = a[3];
      }
      rq->row(acc, count, rq, oc0, p->output_offset, p->act_min, p->act_max, out0 + oc0);
      if (two) rq->row(acc + TD_GEMM_BLOCK, count, rq, oc0, p->output_offset, p->act_min, p->act_max, out1 + oc0);
    }
  }
}
#endif

void td_conv2d_s8_gemm(const td_conv2d_s8_gemm_op *op) {
  /* local copies: stores through int8_t pointers may alias anything, so the compiler would reload
   * every parameter after each output store; locals whose address stays here cannot be aliased */
  union { /* the int16 geometry widened in place: a struct of TD_CONV2D_S8_FIELDS int32 fields */
    td_conv2d_s8_params params;
    int32_t field[TD_CONV2D_S8_FIELDS];
  } local;
  const td_conv2d_s8_params *const p = &local.params;
  const int8_t *const input = op->input, *const packed = op->packed;
  const int32_t *const folded_bias = op->folded_bias;
  const td_requant *const rq = &op->rq;
  int8_t *const output = op->output;
  const td_conv_fetch fetch = op->fetch;
  td_widen_geom(local.field, op->geom, TD_CONV2D_S8_FIELDS);
  /* the packed filter's columns: the receptive field rounded up to a multiple of 8 (zero columns) */
  const int32_t n = (p->k_h * p->k_w * p->in_c + 7) & ~7;
  td_seg2 seg[TD_CONV_MAX_PIECES];
  /* td_conv_fetch_im2col's two rows (the layers of more than TD_CONV_MAX_PIECES taps) live on the stack, not
   * in the arena: on DSP cores behind the widened pair, which is written from the front while the rows are
   * read (group g's 16 bytes always end before row byte 4 g) */
#if defined(TD_DOT_DSP)
  /* 4 bytes per column: two pixels' int16 values, then the im2col rows (n / 2 words) when there are more than
   * TD_CONV_MAX_PIECES taps; the generator keeps that within TD_CONV_MAX_WIDENED_BYTES */
  uint32_t x16[TD_CONV_MAX_WIDENED_BYTES / 4];
  int8_t *const aux = op->aux ? op->aux : (int8_t *)(x16 + n);
  if (op->pair) {
    const int32_t pixels = p->batches * p->out_h * p->out_w, out_c = p->out_c;
    td_gemm_out o;
    int32_t q;
    o.rq = rq;
    o.out_c = out_c;
    o.out_offset = p->output_offset;
    o.lo = p->act_min;
    o.hi = p->act_max;
    for (q = 0; q < pixels; q += 2) {
      const int two = q + 1 < pixels;
      const int32_t nseg = fetch(p, input, q, two ? q + 1 : q, aux, seg);
      o.out0 = output + q * out_c;
      o.out1 = two ? o.out0 + out_c : o.out0;
      op->pair(x16, td_widen_pair(seg, nseg, x16), packed, folded_bias, &o);
    }
    return;
  }
#else
  int32_t rows[n / 2];
  int8_t *const aux = op->aux ? op->aux : (int8_t *)rows;
#endif
#if !defined(TD_DOT_DSP) || defined(TD_EMULATE_DSP)
  td_conv_gemm_portable(p, input, fetch, aux, seg, packed, folded_bias, rq, output);
#endif
}

