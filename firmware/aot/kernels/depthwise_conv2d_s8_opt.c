/* depthwise_conv2d_s8_opt.c - optimized int8 depthwise convolutions (see the header).
 *
 * td_depthwise_conv2d_s8_packed (cores without Helium, depth multiplier 1) is in the bottom half;
 * td_depthwise_conv2d_s8_opt (the shapes it does not take) works like this:
 * per output pixel the window is clipped to the input once.  A whole window uses the folded bias and raw
 * inputs; a clipped one the plain bias and (input + input_offset), the reference formula.  With a depth
 * multiplier of 1 the channels are the inner loop, four at a time: per tap one word of inputs and one of
 * weights, SXTB16/SXTAB16 + SMLABB/SMLATT on the DSP extension, widening loads + VMLA on Helium.
 */
#include "depthwise_conv2d_s8_opt.h"

#include "td_dot_s8.h"
#include "td_fixedpoint.h"

#if defined(TD_DOT_DSP) && defined(__ARM_FEATURE_DSP) && !defined(TD_EMULATE_DSP)
#define td_smlabb(a, b, acc) __smlabb((int32_t)(a), (int32_t)(b), (acc))
#define td_smlatt(a, b, acc) __smlatt((int32_t)(a), (int32_t)(b), (acc))
#elif defined(TD_DOT_DSP)
TD_INLINE int32_t td_smlabb(uint32_t a, uint32_t b, int32_t acc) {
  return acc + (int32_t)(int16_t)(a & 0xFFFFu) * (int32_t)(int16_t)(b & 0xFFFFu);
}
TD_INLINE int32_t td_smlatt(uint32_t a, uint32_t b, int32_t acc) {
  return acc + (int32_t)(int16_t)(a >> 16) * (int32_t)(int16_t)(b >> 16);
}
#endif

/* [first, end) of the filter taps t with 0 <= origin + dilation * t < size */
static void td_dw_clip(int32_t origin, int32_t dilation, int32_t taps, int32_t size, int32_t *first, int32_t *end) {
  int32_t lo = 0, hi = taps;
  if (origin < 0) lo = (-origin + dilation - 1) / dilation;
  if (origin + dilation * (taps - 1) >= size) hi = origin >= size ? 0 : (size - 1 - origin) / dilation + 1;
  *first = lo;
  *end = hi > lo ? hi : lo;
}

typedef struct {
  int32_t ky0, ky1, kx0, kx1; /* clipped tap ranges */
  int32_t offset;             /* 0 for a whole window (folded bias), else the input offset */
  const int32_t *bias;        /* folded_bias or bias (may be NULL) */
  const int8_t *in;           /* the batch's input */
  int32_t origin;             /* element index of the window origin (tap 0, 0), channel 0: may lie outside */
} td_dw_window;

static int32_t td_dw_channel(const td_depthwise_conv2d_s8_params *p, const td_dw_window *w, const int8_t *filter,
                             int32_t ic, int32_t oc) {
  int32_t ky, kx;
  int32_t acc = w->bias ? w->bias[oc] : 0;
  for (ky = w->ky0; ky < w->ky1; ++ky) {
    const int8_t *in_row = w->in + (w->origin + (p->dil_h * ky * p->in_w + p->dil_w * w->kx0) * p->in_c + ic);
    const int8_t *f = filter + (ky * p->k_w + w->kx0) * p->out_c + oc;
    for (kx = w->kx0; kx < w->kx1; ++kx, in_row += p->dil_w * p->in_c, f += p->out_c) {
      acc += ((int32_t)*in_row + w->offset) * (int32_t)*f;
    }
  }
  return acc;
}

/* Depth multiplier 1: channels c .. c+3 of one pixel. */
static void td_dw_four_channels(const td_depthwise_conv2d_s8_params *p, const td_dw_window *w,
                                const int8_t *filter, int32_t c, int32_t acc[4]) {
  int32_t ky, kx, k;
  for (k = 0; k < 4; ++k) acc[k] = w->bias ? w->bias[c + k] : 0;
#if defined(TD_DOT_MVE)
  {
    int32x4_t va = vldrwq_s32(acc);
    for (ky = w->ky0; ky < w->ky1; ++ky) {
      const int8_t *in_row = w->in + (w->origin + (p->dil_h * ky * p->in_w + p->dil_w * w->kx0) * p->in_c + c);
      const int8_t *f = filter + (ky * p->k_w + w->kx0) * p->out_c + c;
      for (kx = w->kx0; kx < w->kx1; ++kx, in_row += p->dil_w * p->in_c, f += p->out_c) {
        va = vaddq_s32(va, vmulq_s32(vaddq_n_s32(vldrbq_s32(in_row), w->offset), vldrbq_s32(f)));
      }
    }
    vstrwq_s32(acc, va);
  }
#elif defined(TD_DOT_DSP)
  {
    const uint32_t off2 = ((uint32_t)(uint16_t)w->offset << 16) | (uint16_t)w->offset;
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    for (ky = w->ky0; ky < w->ky1; ++ky) {
      const int8_t *in_row = w->in + (w->origin + (p->dil_h * ky * p->in_w + p->dil_w * w->kx0) * p->in_c + c);
      const int8_t *f = filter + (ky * p->k_w + w->kx0) * p->out_c + c;
      for (kx = w->kx0; kx < w->kx1; ++kx, in_row += p->dil_w * p->in_c, f += p->out_c) {
        const uint32_t vx = td_load4(in_row), vw = td_load4(f);
        const uint32_t xe = td_sxtab16(off2, vx), xo = td_sxtab16_ror8(off2, vx);
        const uint32_t we = td_sxtb16(vw), wo = td_sxtb16_ror8(vw);
        a0 = td_smlabb(xe, we, a0); /* channel c: byte 0 */
        a2 = td_smlatt(xe, we, a2); /* channel c + 2: byte 2 */
        a1 = td_smlabb(xo, wo, a1); /* channel c + 1: byte 1 */
        a3 = td_smlatt(xo, wo, a3); /* channel c + 3: byte 3 */
      }
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
  }
#else
  for (ky = w->ky0; ky < w->ky1; ++ky) {
    const int8_t *in_row = w->in + (w->origin + (p->dil_h * ky * p->in_w + p->dil_w * w->kx0) * p->in_c + c);
    const int8_t *f = filter + (ky * p->k_w + w->kx0) * p->out_c + c;
    for (kx = w->kx0; kx < w->kx1; ++kx, in_row += p->dil_w * p->in_c, f += p->out_c) {
      for (k = 0; k < 4; ++k) acc[k] += ((int32_t)in_row[k] + w->offset) * (int32_t)f[k];
    }
  }
#endif
}

void td_depthwise_conv2d_s8_opt(const td_depthwise_conv2d_s8_params *params, const int8_t *input, const int8_t *filter,
                                const int32_t *bias, const int32_t *folded_bias, const int32_t *mult,
                                const int32_t *shift, int8_t *output) {
  /* a local copy: stores through int8_t pointers may alias anything, so the compiler would reload
   * every parameter after each output store; a local whose address stays here cannot be aliased */
  const td_depthwise_conv2d_s8_params local = *params;
  const td_depthwise_conv2d_s8_params *const p = &local;
  const int32_t dm = p->depth_multiplier;
  int32_t b, oy, ox, ic, m, k;
  for (b = 0; b < p->batches; ++b) {
    const int8_t *in_b = input + b * p->in_h * p->in_w * p->in_c;
    for (oy = 0; oy < p->out_h; ++oy) {
      const int32_t in_y0 = oy * p->stride_h - p->pad_h;
      td_dw_window w;
      td_dw_clip(in_y0, p->dil_h, p->k_h, p->in_h, &w.ky0, &w.ky1);
      for (ox = 0; ox < p->out_w; ++ox) {
        const int32_t in_x0 = ox * p->stride_w - p->pad_w;
        int8_t *out = output + ((b * p->out_h + oy) * p->out_w + ox) * p->out_c;
        int whole;
        td_dw_clip(in_x0, p->dil_w, p->k_w, p->in_w, &w.kx0, &w.kx1);
        whole = w.ky0 == 0 && w.ky1 == p->k_h && w.kx0 == 0 && w.kx1 == p->k_w;
        w.offset = whole ? 0 : p->input_offset;
        w.bias = whole ? folded_bias : bias;
        /* the window origin may lie outside the input: only clipped taps are ever addressed */
        w.in = in_b;
        w.origin = (in_y0 * p->in_w + in_x0) * p->in_c;
        ic = 0;
        if (dm == 1) {
          for (; ic + 4 <= p->in_c; ic += 4) {
            int32_t acc[4];
            td_dw_four_channels(p, &w, filter, ic, acc);
            for (k = 0; k < 4; ++k) {
              out[ic + k] = td_requant_s8(acc[k], mult[ic + k], shift[ic + k], p->output_offset, p->act_min,
                                          p->act_max);
            }
          }
        }
        for (; ic < p->in_c; ++ic) {
          for (m = 0; m < dm; ++m) {
            const int32_t oc = ic * dm + m;
            out[oc] = td_requant_s8(td_dw_channel(p, &w, filter, ic, oc), mult[oc], shift[oc], p->output_offset,
                                    p->act_min, p->act_max);
          }
        }
      }
    }
  }
}

/* ---- td_depthwise_conv2d_s8_packed: any filter size, channels in groups of four (see the header) ---- */

#define TD_DWP_RQ_WORDS 14 /* per group: {mult, round, e} or {mult, shift, 0} per channel, then lo x4, hi x4 */

/* int32 words of one group in the stream */
TD_INLINE int32_t td_dwp_words(int32_t taps) { return 4 + 4 * (taps / 2) + 2 * (taps & 1) + TD_DWP_RQ_WORDS; }

/* the assembly needs 14 registers: an unoptimized build (r7 kept as the frame pointer) runs the C path */
#if defined(TD_DOT_DSP) && defined(__ARM_FEATURE_DSP) && !defined(TD_EMULATE_DSP) && defined(__OPTIMIZE__)
#define TD_DWP_ASM 1
#endif

/* input byte k of the tap at offset off (base may lie outside the input, base + off never does) */
TD_INLINE int32_t td_dwp_x(uintptr_t base, intptr_t off, int32_t k) {
  return *(const int8_t *)(base + (uintptr_t)off + (uintptr_t)k);
}

/* The group's accumulators from the stream w (bias, tap pairs, odd tap), channels k < n: the portable
 * reading of the layout; sums wrap like the SMLAD ones (the true sums fit an int32).  Returns the stream at
 * the group's requantization words. */
static __attribute__((noinline)) const int32_t *td_dwp_mac_c(const int32_t *w, const intptr_t *offs, int32_t taps, uintptr_t base,
                                   int32_t n, uint32_t acc[4]) {
  int32_t k, j;
  for (k = 0; k < 4; ++k) acc[k] = (uint32_t)w[k];
  w += 4;
  for (j = 0; j + 1 < taps; j += 2, w += 4) {
    for (k = 0; k < n; ++k) {
      const uint32_t word = (uint32_t)w[k];
      acc[k] += (uint32_t)(td_dwp_x(base, offs[j], k) * (int32_t)(int16_t)(word & 0xFFFFu)) +
                (uint32_t)(td_dwp_x(base, offs[j + 1], k) * (int32_t)(int16_t)(word >> 16));
    }
  }
  if (taps & 1) {
    for (k = 0; k < n; ++k) { /* words {c0, c2}, {c1, c3} */
      const uint32_t word = (uint32_t)w[k & 1];
      const int32_t wk = (int16_t)((k >> 1) ? word >> 16 : word & 0xFFFFu);
      acc[k] += (uint32_t)(td_dwp_x(base, offs[taps - 1], k) * wk);
    }
    w += 2;
  }
  return w;
}

#if defined(TD_DOT_DSP) && !defined(TD_DWP_ASM)
/* The DSP algorithm with its instructions in C (TD_EMULATE_DSP): what the inline assembly below computes. */
TD_INLINE uint32_t td_dwp_pkhbt16(uint32_t lo, uint32_t hi) { return (lo & 0xFFFFu) | (hi << 16); }
TD_INLINE uint32_t td_dwp_pkhtb16(uint32_t hi, uint32_t lo) { return (hi & 0xFFFF0000u) | (lo >> 16); }
TD_INLINE uint32_t td_dwp_smlaxy(uint32_t a, uint32_t b, uint32_t acc) {
  return acc + (uint32_t)((int32_t)(int16_t)(a & 0xFFFFu) * (int32_t)(int16_t)(b & 0xFFFFu));
}

static const int32_t *td_dwp_mac_dsp(const int32_t *w, const intptr_t *offs, int32_t taps, uintptr_t base,
                                     uint32_t acc[4]) {
  uint32_t a0 = (uint32_t)w[0], a1 = (uint32_t)w[1], a2 = (uint32_t)w[2], a3 = (uint32_t)w[3];
  int32_t j;
  w += 4;
  for (j = 0; j + 1 < taps; j += 2, w += 4) {
    const uint32_t x0 = td_load4((const int8_t *)(base + (uintptr_t)offs[j]));
    const uint32_t x1 = td_load4((const int8_t *)(base + (uintptr_t)offs[j + 1]));
    const uint32_t lo = td_dwp_pkhbt16(x0, x1); /* bytes x0[0], x0[1], x1[0], x1[1] */
    const uint32_t hi = td_dwp_pkhtb16(x1, x0); /* bytes x0[2], x0[3], x1[2], x1[3] */
    a0 = (uint32_t)td_smlad(td_sxtb16(lo), (uint32_t)w[0], (int32_t)a0);
    a1 = (uint32_t)td_smlad(td_sxtb16_ror8(lo), (uint32_t)w[1], (int32_t)a1);
    a2 = (uint32_t)td_smlad(td_sxtb16(hi), (uint32_t)w[2], (int32_t)a2);
    a3 = (uint32_t)td_smlad(td_sxtb16_ror8(hi), (uint32_t)w[3], (int32_t)a3);
  }
  if (taps & 1) {
    const uint32_t x = td_load4((const int8_t *)(base + (uintptr_t)offs[taps - 1]));
    const uint32_t e = td_sxtb16(x), o = td_sxtb16_ror8(x);
    a0 = td_dwp_smlaxy(e, (uint32_t)w[0], a0);
    a2 = td_dwp_smlaxy(e >> 16, (uint32_t)w[0] >> 16, a2);
    a1 = td_dwp_smlaxy(o, (uint32_t)w[1], a1);
    a3 = td_dwp_smlaxy(o >> 16, (uint32_t)w[1] >> 16, a3);
    w += 2;
  }
  acc[0] = a0;
  acc[1] = a1;
  acc[2] = a2;
  acc[3] = a3;
  return w;
}
#endif

/* The fused requantization of accumulator a with its words rq = {mult, round, e} (unclamped): a holds twice the
 * sum, so SMMULR of it is td_high_mul_fast; its sign stands for the high half's (see TD_DWP_RQ9), as SMMLAR
 * adds the rounding word in the asm.  e's low byte only (like a register-specified shift: see loop9). */
TD_INLINE int32_t td_dwp_fused(uint32_t acc, const int32_t *rq) {
  const int32_t a = (int32_t)acc;
  const int32_t high = (int32_t)(((int64_t)a * rq[0] + (1LL << 31)) >> 32);
  return (high + rq[1] + (a >> 31)) >> (rq[2] & 0xFF);
}

/* Channels k < n of the group from the accumulators and the stream's requantization words rq. */
static __attribute__((noinline)) void td_dwp_requant_c(const uint32_t acc[4], const int32_t *rq, int32_t fused,
                             const td_depthwise_conv2d_s8_params *p, int8_t *out, int32_t n) {
  int32_t k;
  for (k = 0; k < n; ++k, rq += 3) {
    int32_t v;
    if (fused) {
      v = td_clamp_i32(td_dwp_fused(acc[k], rq), p->act_min, p->act_max);
    } else {
      v = td_requant_s8((int32_t)acc[k], rq[0], rq[1], p->output_offset, p->act_min, p->act_max);
    }
    out[k] = (int8_t)v;
  }
}

#if defined(TD_DWP_ASM)
/* one tap pair of one group: offsets o[0..1] (post-incremented), weights w[0..3] (post-incremented) */
#define TD_DWP_PAIR                                 \
  "ldrd %[T1], %[T2], [%[o]], #8\n\t"               \
  "ldr %[X0], [%[b], %[T1]]\n\t"                    \
  "ldr %[X1], [%[b], %[T2]]\n\t"                    \
  "pkhbt %[T3], %[X0], %[X1], lsl #16\n\t"          \
  "pkhtb %[T4], %[X1], %[X0], asr #16\n\t"          \
  "ldrd %[T1], %[T2], [%[w]], #8\n\t"               \
  "sxtb16 %[X0], %[T3]\n\t"                         \
  "sxtb16 %[X1], %[T3], ror #8\n\t"                 \
  "smlad %[a0], %[X0], %[T1], %[a0]\n\t"            \
  "smlad %[a1], %[X1], %[T2], %[a1]\n\t"            \
  "ldrd %[T1], %[T2], [%[w]], #8\n\t"               \
  "sxtb16 %[X0], %[T4]\n\t"                         \
  "sxtb16 %[X1], %[T4], ror #8\n\t"                 \
  "smlad %[a2], %[X0], %[T1], %[a2]\n\t"            \
  "smlad %[a3], %[X1], %[T2], %[a3]\n\t"
#define TD_DWP_BIAS                                 \
  "ldrd %[a0], %[a1], [%[w]], #8\n\t"               \
  "ldrd %[a2], %[a3], [%[w]], #8\n\t"
#define TD_DWP_ODD                                  \
  "ldr %[T1], [%[o]]\n\t"                           \
  "ldr %[X0], [%[b], %[T1]]\n\t"                    \
  "sxtb16 %[T1], %[X0]\n\t"                         \
  "sxtb16 %[X0], %[X0], ror #8\n\t"                 \
  "ldrd %[T2], %[T3], [%[w]], #8\n\t"               \
  "smlabb %[a0], %[T1], %[T2], %[a0]\n\t"           \
  "smlatt %[a2], %[T1], %[T2], %[a2]\n\t"           \
  "smlabb %[a1], %[X0], %[T3], %[a1]\n\t"           \
  "smlatt %[a3], %[X0], %[T3], %[a3]\n\t"
#define TD_DWP_OUTS                                                                                            \
  [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [X0] "=&r"(X0), [X1] "=&r"(X1),             \
      [T1] "=&r"(T1), [T2] "=&r"(T2), [T3] "=&r"(T3), [T4] "=&r"(T4), [o] "+&r"(o), [w] "+&r"(w)
/* one channel's fused requantization: a = ssat8((h + (h < 0 ? -1 : 0) + round) >> e), h = SMMULR(a, mult) */
#define TD_DWP_RQ(a, m, r, e)                       \
  "smmulr %[" a "], %[" a "], %[" m "]\n\t"          \
  "add %[" a "], %[" a "], %[" a "], asr #31\n\t"     \
  "add %[" a "], %[" a "], %[" r "]\n\t"             \
  "asr %[" a "], %[" a "], %[" e "]\n\t"             \
  "ssat %[" a "], #8, %[" a "]\n\t"
/* the fused requantization of a0..a3 from the stream w: a0 = the four output bytes, clamped */
#define TD_DWP_REQUANT                              \
  "ldrd %[T1], %[T2], [%[w]], #8\n\t"               \
  "ldrd %[T3], %[T4], [%[w]], #8\n\t"               \
  TD_DWP_RQ("a0", "T1", "T2", "T3")                 \
  "ldrd %[T1], %[T2], [%[w]], #8\n\t"               \
  TD_DWP_RQ("a1", "T4", "T1", "T2")                 \
  "ldrd %[T1], %[T2], [%[w]], #8\n\t"               \
  "ldrd %[T3], %[T4], [%[w]], #8\n\t"               \
  TD_DWP_RQ("a2", "T1", "T2", "T3")                 \
  "ldrd %[T1], %[T2], [%[w]], #8\n\t"               \
  TD_DWP_RQ("a3", "T4", "T1", "T2")                 \
  "bfi %[a0], %[a1], #8, #8\n\t"                    \
  "bfi %[a0], %[a2], #16, #8\n\t"                   \
  "bfi %[a0], %[a3], #24, #8\n\t"                   \
  "ldrd %[T1], %[T2], [%[w]], #8\n\t"               \
  "ssub8 %[T3], %[a0], %[T1]\n\t"                   \
  "sel %[a0], %[a0], %[T1]\n\t"                     \
  "ssub8 %[T3], %[T2], %[a0]\n\t"                   \
  "sel %[a0], %[a0], %[T2]\n\t"
#endif

#if defined(TD_DWP_ASM)
/* 3x3 with the fused requantization: all full groups of one pixel in one asm loop, everything in registers
 * (the tap offsets read at fixed places, so only the stream, the input and the output pointers move):
 * 2 + 4 x 15 + 9 MAC instructions, 29 of requantization and 5 of loop per four channels. */
static __attribute__((noinline)) const int32_t *td_dwp_groups9(const int32_t *w, const intptr_t *o, uintptr_t b, int8_t *po,
                                     const int32_t *w_end) {
  /* T1..T4 in ascending registers, so that LDM fills them from the stream (r7 left to a frame pointer) */
  register uint32_t T1 __asm__("r8"), T2 __asm__("r9"), T3 __asm__("r10"), T4 __asm__("r11");
  uint32_t a0, a1, a2, a3, X0, X1;
/* acc a: ssat8((SMMLAR(a, mult, round) + (a < 0 ? -1 : 0)) >> e): the sign of the high half h is the sign of
 * the accumulator whenever h != 0, and h == 0 rounds to 0 either way (e >= 1) */
#define TD_DWP_RQ9(a, m, r, e)                      \
  "smmlar %[X0], %[" a "], %[" m "], %[" r "]\n\t"   \
  "add %[" a "], %[X0], %[" a "], asr #31\n\t"       \
  "asr %[" a "], %[" a "], %[" e "]\n\t"             \
  "ssat %[" a "], #8, %[" a "]\n\t"
/* The group's four accumulators requantized (the stream's words: m0 r0 e0 m1 r1 e1 m2 r2 e2 m3 r3 e3 lo hi),
 * packed into a0 as bytes and clamped to [lo, hi] bytewise (SSUB8 sets GE, SEL picks) */
#define TD_DWP_GROUP9                                                     \
  "ldmia %[w]!, {%[T1], %[T2], %[T3], %[T4]}\n\t" /* m0 r0 e0 m1 */      \
  TD_DWP_RQ9("a0", "T1", "T2", "T3")                                      \
  "ldmia %[w]!, {%[T1], %[T2], %[T3]}\n\t" /* r1 e1 m2 */                \
  TD_DWP_RQ9("a1", "T4", "T1", "T2")                                      \
  "ldmia %[w]!, {%[T1], %[T2], %[T4]}\n\t" /* r2 e2 m3 */                \
  TD_DWP_RQ9("a2", "T3", "T1", "T2")                                      \
  "ldmia %[w]!, {%[T1], %[T2], %[T3]}\n\t" /* r3 e3 lo */                \
  TD_DWP_RQ9("a3", "T4", "T1", "T2")                                      \
  "ldr %[T4], [%[w]], #4\n\t" /* hi */                                   \
  "bfi %[a0], %[a1], #8, #8\n\t"                                         \
  "bfi %[a0], %[a2], #16, #8\n\t"                                        \
  "bfi %[a0], %[a3], #24, #8\n\t"                                        \
  "ssub8 %[X0], %[a0], %[T3]\n\t"                                        \
  "sel %[a0], %[a0], %[T3]\n\t"                                          \
  "ssub8 %[X0], %[T4], %[a0]\n\t"                                        \
  "sel %[a0], %[a0], %[T4]\n\t"
#define TD_DWP_PAIR9(j)                             \
  "ldrd %[T1], %[T2], [%[o], #" #j " * 8]\n\t"      \
  "ldr %[X0], [%[b], %[T1]]\n\t"                    \
  "ldr %[X1], [%[b], %[T2]]\n\t"                    \
  "pkhbt %[T3], %[X0], %[X1], lsl #16\n\t"          \
  "pkhtb %[T4], %[X1], %[X0], asr #16\n\t"          \
  "ldrd %[T1], %[T2], [%[w]], #8\n\t"               \
  "sxtb16 %[X0], %[T3]\n\t"                         \
  "sxtb16 %[X1], %[T3], ror #8\n\t"                 \
  "smlad %[a0], %[X0], %[T1], %[a0]\n\t"            \
  "smlad %[a1], %[X1], %[T2], %[a1]\n\t"            \
  "ldrd %[T1], %[T2], [%[w]], #8\n\t"               \
  "sxtb16 %[X0], %[T4]\n\t"                         \
  "sxtb16 %[X1], %[T4], ror #8\n\t"                 \
  "smlad %[a2], %[X0], %[T1], %[a2]\n\t"            \
  "smlad %[a3], %[X1], %[T2], %[a3]\n\t"
  __asm__ volatile("1:\n\t" TD_DWP_BIAS TD_DWP_PAIR9(0) TD_DWP_PAIR9(1) TD_DWP_PAIR9(2) TD_DWP_PAIR9(3)
                   "ldr %[T1], [%[o], #32]\n\t"
                   "ldr %[X0], [%[b], %[T1]]\n\t"
                   "sxtb16 %[T1], %[X0]\n\t"
                   "sxtb16 %[X0], %[X0], ror #8\n\t"
                   "ldrd %[T2], %[T3], [%[w]], #8\n\t"
                   "smlabb %[a0], %[T1], %[T2], %[a0]\n\t"
                   "smlatt %[a2], %[T1], %[T2], %[a2]\n\t"
                   "smlabb %[a1], %[X0], %[T3], %[a1]\n\t"
                   "smlatt %[a3], %[X0], %[T3], %[a3]\n\t"
                   TD_DWP_GROUP9
                   "str %[a0], [%[po]], #4\n\t"
                   "add %[b], %[b], #4\n\t"
                   "ldr %[T1], %[w_end]\n\t"
                   "cmp %[w], %[T1]\n\t"
                   "bne 1b\n\t"
                   : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [X0] "=&r"(X0),
                     [X1] "=&r"(X1), [T1] "=&r"(T1), [T2] "=&r"(T2), [T3] "=&r"(T3), [T4] "=&r"(T4),
                     [w] "+&r"(w), [b] "+&r"(b), [po] "+&r"(po)
                   : [o] "r"(o), [w_end] "m"(w_end)
                   : "cc", "memory");
#undef TD_DWP_PAIR9
  return w;
}
#endif

#if defined(TD_DWP_ASM)
/* Any filter with the fused requantization: all full groups of one pixel in one asm loop (w_end: the stream
 * after them), four tap pairs per turn (the pairs count's low bits first), then the odd tap.
 * Per four channels: 15 per tap pair + 0.5 of loop, 9 for an odd tap, 28 of requantization, ~20 of bookkeeping
 * (the output pointer, the tap count and the offsets come from the stack: the registers hold the rest). */
static __attribute__((noinline)) const int32_t *td_dwp_groupsN(const int32_t *w, const intptr_t *offs, uintptr_t b, int8_t *po,
                                     const int32_t *w_end, int32_t taps) {
  register uint32_t T1 __asm__("r8"), T2 __asm__("r9"), T3 __asm__("r10"), T4 __asm__("r11");
  uint32_t a0, a1, a2, a3, X0, X1, n;
  const intptr_t *o;
  const uint32_t pairs = (uint32_t)taps >> 1, odd = (uint32_t)taps & 1u;
  __asm__ volatile("1:\n\t"
                   "ldr %[o], %[offs]\n\t"
                   "ldr %[n], %[pairs]\n\t"
                   TD_DWP_BIAS
                   "lsrs %[n], %[n], #1\n\t" /* C: a lone pair */
                   "bcc 3f\n\t"
                   TD_DWP_PAIR
                   "3:\n\t"
                   "lsrs %[n], %[n], #1\n\t" /* C: two more; Z: no four (the pairs leave the flags alone) */
                   "bcc 7f\n\t"
                   TD_DWP_PAIR TD_DWP_PAIR
                   "7:\n\t"
                   "beq 4f\n\t"
                   "5:\n\t" TD_DWP_PAIR TD_DWP_PAIR TD_DWP_PAIR TD_DWP_PAIR
                   "subs %[n], %[n], #1\n\t"
                   "bne 5b\n\t"
                   "4:\n\t"
                   "ldr %[T1], %[odd]\n\t"
                   "cmp %[T1], #0\n\t"
                   "beq 6f\n\t"
                   TD_DWP_ODD
                   "6:\n\t"
                   TD_DWP_GROUP9
                   "ldr %[T1], %[po]\n\t"
                   "str %[a0], [%[T1]], #4\n\t"
                   "str %[T1], %[po]\n\t"
                   "add %[b], %[b], #4\n\t"
                   "ldr %[T1], %[w_end]\n\t"
                   "cmp %[w], %[T1]\n\t"
                   "bne 1b\n\t"
                   : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [X0] "=&r"(X0),
                     [X1] "=&r"(X1), [T1] "=&r"(T1), [T2] "=&r"(T2), [T3] "=&r"(T3), [T4] "=&r"(T4),
                     [w] "+&r"(w), [b] "+&r"(b), [o] "=&r"(o), [n] "=&r"(n), [po] "+m"(po)
                   : [offs] "m"(offs), [pairs] "m"(pairs), [odd] "m"(odd), [w_end] "m"(w_end)
                   : "cc", "memory");
  return w;
}
#endif

/* Full groups of four channels of one output pixel (channels [0, full)); returns the stream after them. */
static const int32_t *td_dwp_pixel(const int32_t *w, const intptr_t *offs, int32_t taps, uintptr_t base,
                                   int32_t full, int32_t fused, const td_depthwise_conv2d_s8_params *p,
                                   int8_t *out) {
  int32_t g;
#if defined(TD_DWP_ASM)
  const int32_t pairs = taps >> 1;
  if (fused) {
    const int32_t *const w_end = w + (full / 4) * td_dwp_words(taps);
    if (!full) return w;
    return taps == 9 ? td_dwp_groups9(w, offs, base, out, w_end) : td_dwp_groupsN(w, offs, base, out, w_end, taps);
  }
  for (g = 0; g < full; g += 4) {
    uint32_t a0, a1, a2, a3, X0, X1, T1, T2, T3, T4;
    const intptr_t *o = offs;
    const uintptr_t b = base + (uintptr_t)g;
    {
      uint32_t n = (uint32_t)pairs;
      __asm__ volatile(TD_DWP_BIAS
                       "cmp %[n], #0\n\t"
                       "beq 2f\n\t"
                       "1:\n\t" TD_DWP_PAIR
                       "subs %[n], %[n], #1\n\t"
                       "bne 1b\n\t"
                       "2:\n\t"
                       : TD_DWP_OUTS, [n] "+&r"(n)
                       : [b] "r"(b)
                       : "cc", "memory");
      if (taps & 1) {
        __asm__ volatile(TD_DWP_ODD
                         : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [X0] "=&r"(X0),
                           [T1] "=&r"(T1), [T2] "=&r"(T2), [T3] "=&r"(T3), [w] "+&r"(w)
                         : [b] "r"(b), [o] "r"(o)
                         : "memory");
      }
    }
    if (fused) {
      int8_t *po = out + g;
      __asm__ volatile(TD_DWP_REQUANT
                       "str %[a0], [%[po]]\n\t"
                       : [a0] "+&r"(a0), [a1] "+&r"(a1), [a2] "+&r"(a2), [a3] "+&r"(a3), [T1] "=&r"(T1),
                         [T2] "=&r"(T2), [T3] "=&r"(T3), [T4] "=&r"(T4), [w] "+&r"(w)
                       : [po] "r"(po)
                       : "cc", "memory");
    } else {
      const uint32_t acc[4] = {a0, a1, a2, a3};
      td_dwp_requant_c(acc, w, 0, p, out + g, 4);
      w += TD_DWP_RQ_WORDS;
    }
  }
#else
  for (g = 0; g < full; g += 4) {
    uint32_t acc[4];
#if defined(TD_DOT_DSP)
    w = td_dwp_mac_dsp(w, offs, taps, base + (uintptr_t)g, acc);
#else
    w = td_dwp_mac_c(w, offs, taps, base + (uintptr_t)g, 4, acc);
#endif
    td_dwp_requant_c(acc, w, fused, p, out + g, 4);
    w += TD_DWP_RQ_WORDS;
  }
#endif
  return w;
}

/* The pixel loop of the general entry. */
static void td_dwp_run(const td_depthwise_conv2d_s8_packed_op *op) {
  /* local copies: stores through int8_t pointers may alias anything (see conv2d_s8_opt.c) */
  union {
    td_depthwise_conv2d_s8_params params;
    int32_t field[TD_DEPTHWISE_CONV2D_S8_FIELDS];
  } local;
  const td_depthwise_conv2d_s8_params *const p = &local.params;
  const int8_t *const input = op->input;
  int8_t *const output = op->output;
  const int32_t *const stream = op->stream;
  const uintptr_t zp_row = (uintptr_t)op->zp_row;
  const int32_t fused = op->fused;
  intptr_t clipped[TD_DWP_MAX_TAPS]; /* a border pixel's tap offsets */
#if UINTPTR_MAX == 0xFFFFFFFFu
  const intptr_t *const whole = (const intptr_t *)op->window;
#else
  intptr_t whole[TD_DWP_MAX_TAPS];
#endif
  int32_t b, oy, ox, ky, kx, t;
  td_widen_geom(local.field, op->geom, TD_DEPTHWISE_CONV2D_S8_FIELDS);
  {
    const int32_t c = p->in_c, taps = p->k_h * p->k_w;
    const int32_t full = c & ~3, rem = c & 3;
    const int32_t span_h = (p->k_h - 1) * p->dil_h, span_w = (p->k_w - 1) * p->dil_w;
#if UINTPTR_MAX != 0xFFFFFFFFu
    for (t = 0; t < taps; ++t) whole[t] = op->window[t];
#endif
    for (b = 0; b < p->batches; ++b) {
      const int8_t *in_b = input + b * p->in_h * p->in_w * c;
      for (oy = 0; oy < p->out_h; ++oy) {
        const int32_t in_y0 = oy * p->stride_h - p->pad_h;
        const int rows_inside = in_y0 >= 0 && in_y0 + span_h < p->in_h;
        for (ox = 0; ox < p->out_w; ++ox) {
          const int32_t in_x0 = ox * p->stride_w - p->pad_w;
          int8_t *out = output + ((b * p->out_h + oy) * p->out_w + ox) * c;
          /* the window origin (tap 0, 0), which may lie outside the input: only base + offset is read */
          const uintptr_t base = (uintptr_t)in_b + (uintptr_t)(intptr_t)((in_y0 * p->in_w + in_x0) * c);
          const intptr_t *offs = whole;
          const int32_t *w;
          if (!(rows_inside && in_x0 >= 0 && in_x0 + span_w < p->in_w)) {
            for (ky = 0, t = 0; ky < p->k_h; ++ky) {
              const int32_t in_y = in_y0 + p->dil_h * ky;
              for (kx = 0; kx < p->k_w; ++kx, ++t) {
                const int32_t in_x = in_x0 + p->dil_w * kx;
                const int inside = in_y >= 0 && in_y < p->in_h && in_x >= 0 && in_x < p->in_w;
                clipped[t] = inside ? whole[t] : (intptr_t)(zp_row - base);
              }
            }
            offs = clipped;
          }
          w = td_dwp_pixel(stream, offs, taps, base, full, fused, p, out);
          if (rem) { /* the last channels, read and written byte by byte */
            uint32_t acc[4];
            w = td_dwp_mac_c(w, offs, taps, base + (uintptr_t)full, rem, acc);
            td_dwp_requant_c(acc, w, fused, p, out + full, rem);
          }
        }
      }
    }
  }
}

void td_depthwise_conv2d_s8_packed(const td_depthwise_conv2d_s8_packed_op *op) { td_dwp_run(op); }

/* ---- the 3x3 entry: the four td_dwp_loop9_* (the header's loop9) ---- */

#if defined(TD_DWP_ASM)
/* Whole functions in assembly (AAPCS: stream r0, offs r1, base r2, out r3, pixels and skip on the stack), so
 * that all 14 registers are the loop's and sp holds the rest:
 *   r0-r3 the accumulators (one LDM loads the bias), r4-r6 input / scratch, r7 the output, r8-r11 a tap
 *   pair's four weight words (one LDM) and later the requantization words, r12 the stream, lr the input;
 *   [sp, #0..32] the nine tap offsets, #36 the stream, #80 pixels left, #84 skip (80 B of stack, no calls:
 *   below the 128 B flash/stack.py's bound charges an indirect call).
 * Per four channels: 1 bias + 4 x 14 per tap pair + 9 odd tap + 18 requantization loads and arithmetic
 * (+1 clamped) + 3 packing + 4 clamp (_clamp loops) + 1 store + 3 loop = 91 (96 clamped) instructions for
 * 36 MACs, 4 fewer in the _relu loops; 7 per pixel. */
#define TD_DWP9_PAIR(j)                                                                                        \
  "ldrd r4, r5, [sp, #" #j "]\n\t"                                                                              \
  "ldr r4, [lr, r4]\n\t"                                                                                        \
  "ldr r5, [lr, r5]\n\t"                                                                                        \
  "pkhbt r6, r4, r5, lsl #16\n\t" /* bytes 0, 1 of both taps */                                                 \
  "pkhtb r5, r5, r4, asr #16\n\t" /* bytes 2, 3 */                                                              \
  "ldmia r12!, {r8-r11}\n\t"                                                                                    \
  "sxtb16 r4, r6\n\t"                                                                                           \
  "sxtb16 r6, r6, ror #8\n\t"                                                                                   \
  "smlad r0, r4, r8, r0\n\t"                                                                                    \
  "smlad r1, r6, r9, r1\n\t"                                                                                    \
  "sxtb16 r4, r5\n\t"                                                                                           \
  "sxtb16 r5, r5, ror #8\n\t"                                                                                   \
  "smlad r2, r4, r10, r2\n\t"                                                                                   \
  "smlad r3, r5, r11, r3\n\t"
/* accumulator a: ssat8((SMMLAR(a, mult, round) + (a < 0 ? -1 : 0)) >> e) (see TD_DWP_RQ9), into r's register */
#define TD_DWP9_RQ(a, m, r, e)                                                                                 \
  "smmlar " r ", " a ", " m ", " r "\n\t"                                                                       \
  "add " a ", " r ", " a ", asr #31\n\t"                                                                        \
  "asr " a ", " a ", " e "\n\t"                                                                                 \
  "ssat " a ", #8, " a "\n\t"
/* the same without the sign term, for activations with act_min >= the output zero point (ReLU, or none with
 * zero point -128): a < 0 makes the high half <= 0, so both roundings give at most the zero point, which the
 * clamp turns into act_min; a >= 0 adds nothing */
#define TD_DWP9_RQ_RELU(a, m, r, e)                                                                            \
  "smmlar " r ", " a ", " m ", " r "\n\t"                                                                       \
  "asr " a ", " r ", " e "\n\t"                                                                                 \
  "ssat " a ", #8, " a "\n\t"
/* RQ: TD_DWP9_RQ or _RELU; LOAD2, LOAD3: the words after m2 (r2 e2 m3 into r4-r6, r3 e3 into r8, r9, lo hi
 * into r10, r11 when clamped), before channel 2's and channel 3's requantization; CLAMP: the bytes' */
#define TD_DWP9_LOOP(name, RQ, LOAD2, LOAD3, CLAMP)                                                            \
  __asm__(".pushsection .text." #name ",\"ax\",%progbits\n\t"                                                  \
          ".global " #name "\n\t"                                                                               \
          ".type " #name ", %function\n\t"                                                                      \
          ".syntax unified\n\t"                                                                                 \
          ".thumb\n\t"                                                                                          \
          ".p2align 2\n\t"                                                                                      \
          ".thumb_func\n"                                                                                       \
          #name ":\n\t"                                                                                         \
          "push {r4-r11, lr}\n\t"                                                                               \
          "push {r0, r3}\n\t"                                                                                   \
          "ldmia r1, {r4-r12}\n\t"                                                                              \
          "push {r4-r12}\n\t"                                                                                   \
          "mov r7, r3\n\t"                                                                                      \
          "mov lr, r2\n"                                                                                        \
          "0:\n\t"                                                                                              \
          "ldr r12, [sp, #36]\n"                                                                                \
          "1:\n\t"                                                                                              \
          "ldmia r12!, {r0-r3}\n\t"                                                                             \
          TD_DWP9_PAIR(0) TD_DWP9_PAIR(8) TD_DWP9_PAIR(16) TD_DWP9_PAIR(24)                                     \
          "ldr r4, [sp, #32]\n\t"                                                                               \
          "ldr r4, [lr, r4]\n\t"                                                                                \
          "sxtb16 r6, r4\n\t"                                                                                   \
          "sxtb16 r4, r4, ror #8\n\t"                                                                           \
          "ldrd r8, r9, [r12], #8\n\t"                                                                          \
          "smlabb r0, r6, r8, r0\n\t"                                                                           \
          "smlatt r2, r6, r8, r2\n\t"                                                                           \
          "smlabb r1, r4, r9, r1\n\t"                                                                           \
          "smlatt r3, r4, r9, r3\n\t"                                                                           \
          "ldmia r12!, {r4-r6, r8-r11}\n\t" /* m0 r0 e0 m1 r1 e1 m2 */                                          \
          RQ("r0", "r4", "r5", "r6")                                                                            \
          RQ("r1", "r8", "r9", "r10")                                                                           \
          LOAD2                                                                                                 \
          RQ("r2", "r11", "r4", "r5")                                                                           \
          LOAD3                                                                                                 \
          RQ("r3", "r6", "r8", "r9")                                                                            \
          "bfi r0, r1, #8, #8\n\t"                                                                              \
          "bfi r0, r2, #16, #8\n\t"                                                                             \
          "bfi r0, r3, #24, #8\n\t"                                                                             \
          CLAMP                                                                                                 \
          "str r0, [r7], #4\n\t"                                                                                \
          "add lr, lr, #4\n\t"                                                                                  \
          "tst r9, #256\n\t" /* the pixel's last group */                                                       \
          "beq 1b\n\t"                                                                                          \
          "ldr r6, [sp, #84]\n\t"                                                                               \
          "add lr, lr, r6\n\t"                                                                                  \
          "ldr r6, [sp, #80]\n\t"                                                                               \
          "subs r6, r6, #1\n\t"                                                                                 \
          "str r6, [sp, #80]\n\t"                                                                               \
          "bne 0b\n\t"                                                                                          \
          "add sp, sp, #44\n\t"                                                                                 \
          "pop {r4-r11, pc}\n\t"                                                                                \
          ".size " #name ", .-" #name "\n\t"                                                                    \
          ".popsection\n");

#define TD_DWP9_LOAD2_CLAMP "ldmia r12!, {r4-r6}\n\t"       /* r2 e2 m3 */
#define TD_DWP9_LOAD3_CLAMP "ldmia r12!, {r8-r11}\n\t"      /* r3 e3 lo hi */
#define TD_DWP9_LOAD2_FULL "ldmia r12!, {r4-r6, r8, r9}\n\t" /* r2 e2 m3 r3 e3 */
#define TD_DWP9_CLAMP                                                                                          \
  "ssub8 r4, r0, r10\n\t"                                                                                       \
  "sel r0, r0, r10\n\t"                                                                                         \
  "ssub8 r4, r11, r0\n\t"                                                                                       \
  "sel r0, r0, r11\n\t"
TD_DWP9_LOOP(td_dwp_loop9_clamp, TD_DWP9_RQ, TD_DWP9_LOAD2_CLAMP, TD_DWP9_LOAD3_CLAMP, TD_DWP9_CLAMP)
TD_DWP9_LOOP(td_dwp_loop9_full, TD_DWP9_RQ, TD_DWP9_LOAD2_FULL, "", "")
TD_DWP9_LOOP(td_dwp_loop9_clamp_relu, TD_DWP9_RQ_RELU, TD_DWP9_LOAD2_CLAMP, TD_DWP9_LOAD3_CLAMP, TD_DWP9_CLAMP)
TD_DWP9_LOOP(td_dwp_loop9_full_relu, TD_DWP9_RQ_RELU, TD_DWP9_LOAD2_FULL, "", "")
#else
/* The same in C (the stream's words read as the assembly reads them). */
static void td_dwp_loop9_c(const int32_t *stream, const intptr_t *offs, uintptr_t base, int8_t *out,
                           int32_t pixels, int32_t skip, int clamped) {
  for (; pixels > 0; --pixels, base += (uintptr_t)(intptr_t)skip) {
    const int32_t *w = stream;
    int32_t last;
    do {
      uint32_t acc[4];
      int32_t k, lo = -128, hi = 127;
#if defined(TD_DOT_DSP)
      w = td_dwp_mac_dsp(w, offs, 9, base, acc);
#else
      w = td_dwp_mac_c(w, offs, 9, base, 4, acc);
#endif
      if (clamped) {
        lo = (int8_t)w[12];
        hi = (int8_t)w[13];
      }
      for (k = 0; k < 4; ++k) out[k] = (int8_t)td_clamp_i32(td_dwp_fused(acc[k], w + 3 * k), lo, hi);
      last = w[11] & 0x100;
      w += clamped ? 14 : 12;
      base += 4;
      out += 4;
    } while (!last);
  }
}

void td_dwp_loop9_clamp(const int32_t *stream, const intptr_t *offs, uintptr_t base, int8_t *out, int32_t pixels,
                        int32_t skip) {
  td_dwp_loop9_c(stream, offs, base, out, pixels, skip, 1);
}

void td_dwp_loop9_full(const int32_t *stream, const intptr_t *offs, uintptr_t base, int8_t *out, int32_t pixels,
                       int32_t skip) {
  td_dwp_loop9_c(stream, offs, base, out, pixels, skip, 0);
}

/* the exact requantization is what the assembly's _relu loops compute for their activations */
void td_dwp_loop9_clamp_relu(const int32_t *stream, const intptr_t *offs, uintptr_t base, int8_t *out,
                             int32_t pixels, int32_t skip) {
  td_dwp_loop9_c(stream, offs, base, out, pixels, skip, 1);
}

void td_dwp_loop9_full_relu(const int32_t *stream, const intptr_t *offs, uintptr_t base, int8_t *out,
                            int32_t pixels, int32_t skip) {
  td_dwp_loop9_c(stream, offs, base, out, pixels, skip, 0);
}
#endif

/* optimized for size: only the per-row bookkeeping is C here (op->loop9 runs the pixels), and the firmware's
 * code must stay below the reference kernels'.  A row's interior pixels (whole windows) go to the loop in one
 * call; a border pixel alone, its outside taps reading zp_row. */
typedef struct {
  intptr_t t[9];
} td_dwp_offs9; /* a 3x3 window's tap offsets, copied as one block */

__attribute__((optimize("Os"))) void td_depthwise_conv2d_s8_packed_3x3(const td_depthwise_conv2d_s8_packed_op *op) {
  union {
    td_depthwise_conv2d_s8_params params;
    int32_t field[TD_DEPTHWISE_CONV2D_S8_FIELDS];
  } local;
  const td_depthwise_conv2d_s8_params *const p = &local.params;
  td_dwp_loop9_fn *const loop = op->loop9;
  const uintptr_t zp_row = (uintptr_t)op->zp_row;
  intptr_t clipped[9];
#if UINTPTR_MAX == 0xFFFFFFFFu
  const intptr_t *const whole = (const intptr_t *)op->window;
#else
  intptr_t whole[9];
#endif
  int32_t b, oy, ox, ky, kx;
#if UINTPTR_MAX != 0xFFFFFFFFu
  int32_t t;
#endif
  td_widen_geom(local.field, op->geom, TD_DEPTHWISE_CONV2D_S8_FIELDS);
  {
    const int32_t c = p->in_c, sw = p->stride_w;
    const int32_t span_w = 2 * p->dil_w;
    /* the interior columns: [x_lo, x_hi) have in_x0 >= 0 and in_x0 + span_w < in_w */
    const int32_t reach = p->in_w - 1 - span_w + p->pad_w;
    const int32_t x_lo = (p->pad_w + sw - 1) / sw;
    int32_t x_hi = reach >= 0 ? reach / sw + 1 : 0;
    if (x_hi > p->out_w) x_hi = p->out_w;
#if UINTPTR_MAX != 0xFFFFFFFFu
    for (t = 0; t < 9; ++t) whole[t] = op->window[t];
#endif
    for (b = 0; b < p->batches; ++b) {
      const int8_t *in_b = op->input + b * p->in_h * p->in_w * c;
      for (oy = 0; oy < p->out_h; ++oy) {
        const int32_t in_y0 = oy * p->stride_h - p->pad_h;
        uint32_t rows = 0; /* bit 3 ky + kx: tap (ky, kx)'s row is inside */
        for (ky = 0; ky < 3; ++ky) {
          if ((uint32_t)(in_y0 + p->dil_h * ky) < (uint32_t)p->in_h) rows |= 7u << (3 * ky);
        }
        for (ox = 0; ox < p->out_w;) {
          const int32_t in_x0 = ox * sw - p->pad_w;
          int8_t *out = op->output + ((b * p->out_h + oy) * p->out_w + ox) * c;
          /* the window origin (tap 0, 0), which may lie outside the input: only base + offset is read */
          const uintptr_t base = (uintptr_t)in_b + (uintptr_t)(intptr_t)((in_y0 * p->in_w + in_x0) * c);
          uint32_t inside = 0; /* bit t: tap t is inside */
          if (rows == 0x1FFu && ox == x_lo && x_hi > x_lo) {
            loop(op->stream, whole, base, out, x_hi - x_lo, (sw - 1) * c);
            ox = x_hi;
            continue;
          }
          for (kx = 0; kx < 3; ++kx) {
            if ((uint32_t)(in_x0 + p->dil_w * kx) < (uint32_t)p->in_w) inside |= 0x49u << kx; /* column kx */
          }
          /* the whole window's offsets (one block copy), then the outside taps (the zeros of `inside`) */
          *(td_dwp_offs9 *)clipped = *(const td_dwp_offs9 *)whole;
          for (inside = ~(inside & rows) & 0x1FFu; inside; inside &= inside - 1u) {
            clipped[__builtin_ctz(inside)] = (intptr_t)(zp_row - base);
          }
          loop(op->stream, clipped, base, out, 1, 0);
          ++ox;
        }
      }
    }
  }
}
