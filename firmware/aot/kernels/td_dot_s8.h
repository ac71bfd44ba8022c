/* td_dot_s8.h - int8 dot products for the optimized aot kernels (conv2d, depthwise, fully connected).
 *
 * Integer sums are exact in any order, so every variant below gives the same int32 as the reference loop:
 *   - Helium (Cortex-M55, __ARM_FEATURE_MVE): 16 lanes per step, VMLADAVA with tail predication;
 *   - DSP extension (Cortex-M4/M7/M33, __ARM_FEATURE_DSP): 4 bytes per step, SXTB16 + SMLAD;
 *   - portable C otherwise (compilers vectorize it on hosts).
 * TD_EMULATE_DSP selects the DSP algorithm with C versions of the two instructions, so a host build can
 * check its packing logic; TD_NO_SIMD forces the portable loop.
 */
#ifndef TD_DOT_S8_H
#define TD_DOT_S8_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "td_fixedpoint.h"

#if !defined(TD_NO_SIMD) && defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#define TD_DOT_MVE 1
#include <arm_mve.h>
#elif !defined(TD_NO_SIMD) && (defined(__ARM_FEATURE_DSP) || defined(TD_EMULATE_DSP))
#define TD_DOT_DSP 1
#if defined(__ARM_FEATURE_DSP) && !defined(TD_EMULATE_DSP)
#include <arm_acle.h>
#define TD_HAVE_ACLE 1
#define td_sxtb16(x) ((uint32_t)__sxtb16(x))
#define td_sxtab16(a, x) ((uint32_t)__sxtab16((a), (x)))
#define td_smlad(a, b, acc) __smlad((a), (b), (acc))
/* SXTB16 with its built-in rotation (bytes 1 and 3): one instruction, which compilers do not fuse */
TD_INLINE uint32_t td_sxtb16_ror8(uint32_t x) {
  uint32_t r;
  __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
  return r;
}
TD_INLINE uint32_t td_sxtab16_ror8(uint32_t a, uint32_t x) {
  uint32_t r;
  __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(a), "r"(x));
  return r;
}
#define TD_HAVE_SXTB16_ROR8 1
#else
/* SXTB16: sign-extend bytes 0 and 2 into the two halfwords. */
TD_INLINE uint32_t td_sxtb16(uint32_t x) {
  const uint32_t lo = (uint32_t)(uint16_t)(int16_t)(int8_t)(x & 0xFFu);
  const uint32_t hi = (uint32_t)(uint16_t)(int16_t)(int8_t)((x >> 16) & 0xFFu);
  return lo | (hi << 16);
}
/* SXTAB16: add the sign-extended bytes 0 and 2 of x to the two halfwords of a (each halfword wraps). */
TD_INLINE uint32_t td_sxtab16(uint32_t a, uint32_t x) {
  const uint32_t lo = ((a & 0xFFFFu) + (uint32_t)(int32_t)(int8_t)(x & 0xFFu)) & 0xFFFFu;
  const uint32_t hi = ((a >> 16) + (uint32_t)(int32_t)(int8_t)((x >> 16) & 0xFFu)) & 0xFFFFu;
  return lo | (hi << 16);
}
/* SMLAD: acc + lo(a) * lo(b) + hi(a) * hi(b), halfwords signed. */
TD_INLINE int32_t td_smlad(uint32_t a, uint32_t b, int32_t acc) {
  const int32_t p0 = (int32_t)(int16_t)(a & 0xFFFFu) * (int32_t)(int16_t)(b & 0xFFFFu);
  const int32_t p1 = (int32_t)(int16_t)(a >> 16) * (int32_t)(int16_t)(b >> 16);
  return (int32_t)((uint32_t)acc + (uint32_t)p0 + (uint32_t)p1);
}
#endif
TD_INLINE uint32_t td_ror8(uint32_t x) { return (x >> 8) | (x << 24); }
#if !defined(TD_HAVE_SXTB16_ROR8)
TD_INLINE uint32_t td_sxtb16_ror8(uint32_t x) { return td_sxtb16(td_ror8(x)); }
TD_INLINE uint32_t td_sxtab16_ror8(uint32_t a, uint32_t x) { return td_sxtab16(a, td_ror8(x)); }
#endif
TD_INLINE uint32_t td_load4(const int8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4); /* an unaligned LDR on cores with the DSP extension */
  return v;
}
#endif

/* acc + sum(a[i] * b[i]) for i < n */
TD_INLINE int32_t td_dot_s8(const int8_t *a, const int8_t *b, int32_t n, int32_t acc) {
  int32_t i = 0;
#if defined(TD_DOT_MVE)
  for (; i < n; i += 16) {
    const mve_pred16_t p = vctp8q((uint32_t)(n - i));
    acc = vmladavaq_p_s8(acc, vldrbq_z_s8(a + i, p), vldrbq_z_s8(b + i, p), p);
  }
  return acc;
#else
#if defined(TD_DOT_DSP)
  for (; i + 4 <= n; i += 4) {
    const uint32_t va = td_load4(a + i), vb = td_load4(b + i);
    acc = td_smlad(td_sxtb16(va), td_sxtb16(vb), acc);
    acc = td_smlad(td_sxtb16_ror8(va), td_sxtb16_ror8(vb), acc);
  }
#endif
  for (; i < n; ++i) acc += (int32_t)a[i] * (int32_t)b[i];
  return acc;
#endif
}

/* Two dot products sharing the input x: *acc0 += x . w0, *acc1 += x . w1 (one input unpack per step). */
TD_INLINE void td_dot2_s8(const int8_t *x, const int8_t *w0, const int8_t *w1, int32_t n, int32_t *acc0,
                          int32_t *acc1) {
#if defined(TD_DOT_MVE)
  *acc0 = td_dot_s8(x, w0, n, *acc0);
  *acc1 = td_dot_s8(x, w1, n, *acc1);
#else
  int32_t i = 0;
  int32_t s0 = *acc0, s1 = *acc1;
#if defined(TD_DOT_DSP)
  for (; i + 4 <= n; i += 4) {
    const uint32_t vx = td_load4(x + i);
    const uint32_t xe = td_sxtb16(vx), xo = td_sxtb16_ror8(vx);
    const uint32_t v0 = td_load4(w0 + i), v1 = td_load4(w1 + i);
    s0 = td_smlad(xe, td_sxtb16(v0), s0);
    s0 = td_smlad(xo, td_sxtb16_ror8(v0), s0);
    s1 = td_smlad(xe, td_sxtb16(v1), s1);
    s1 = td_smlad(xo, td_sxtb16_ror8(v1), s1);
  }
#endif
  for (; i < n; ++i) {
    s0 += (int32_t)x[i] * (int32_t)w0[i];
    s1 += (int32_t)x[i] * (int32_t)w1[i];
  }
  *acc0 = s0;
  *acc1 = s1;
#endif
}

/* A 2x2 block: two inputs (x0, x1) against two weight rows (w0, w1); acc[2 * i + j] += xi . wj. */
TD_INLINE void td_dot2x2_s8(const int8_t *x0, const int8_t *x1, const int8_t *w0, const int8_t *w1, int32_t n,
                            int32_t acc[4]) {
#if defined(TD_DOT_MVE)
  td_dot2_s8(x0, w0, w1, n, &acc[0], &acc[1]);
  td_dot2_s8(x1, w0, w1, n, &acc[2], &acc[3]);
#else
  int32_t i = 0;
  int32_t s00 = acc[0], s01 = acc[1], s10 = acc[2], s11 = acc[3];
#if defined(TD_DOT_DSP)
  /* two moving pointers and two fixed distances: register-offset loads keep everything in registers */
  const int8_t *pa = x0, *pw = w0;
  const ptrdiff_t dx = x1 - x0, dw = w1 - w0;
  for (; i + 4 <= n; i += 4, pa += 4, pw += 4) {
    const uint32_t va = td_load4(pa), vb = td_load4(pa + dx);
    const uint32_t v0 = td_load4(pw), v1 = td_load4(pw + dw);
    const uint32_t ae = td_sxtb16(va), ao = td_sxtb16_ror8(va);
    const uint32_t be = td_sxtb16(vb), bo = td_sxtb16_ror8(vb);
    const uint32_t e0 = td_sxtb16(v0), o0 = td_sxtb16_ror8(v0);
    const uint32_t e1 = td_sxtb16(v1), o1 = td_sxtb16_ror8(v1);
    s00 = td_smlad(ao, o0, td_smlad(ae, e0, s00));
    s01 = td_smlad(ao, o1, td_smlad(ae, e1, s01));
    s10 = td_smlad(bo, o0, td_smlad(be, e0, s10));
    s11 = td_smlad(bo, o1, td_smlad(be, e1, s11));
  }
#endif
  for (; i < n; ++i) {
    const int32_t a = x0[i], b = x1[i], c0 = w0[i], c1 = w1[i];
    s00 += a * c0;
    s01 += a * c1;
    s10 += b * c0;
    s11 += b * c1;
  }
  acc[0] = s00;
  acc[1] = s01;
  acc[2] = s10;
  acc[3] = s11;
#endif
}

/* One contiguous piece of two inputs' receptive fields. */
typedef struct {
  const int8_t *x0, *x1;
  int32_t len;
} td_seg2;

/* A 2x2 block over a receptive field given as pieces of any length (their values are the filter's columns
 * in order), against weights packed offline for an output-channel pair (tinydeploy.aot.ops.conv2d
 * .pack_pairs over rows padded with zero columns): column j of row r at w[8 * (j / 4) + 4 * r + j % 4].
 * acc[2 * i + j] += xi . wj, the inputs read in place.  The portable form: cores with the DSP extension
 * widen the inputs once per pixel pair instead (conv2d_s8_opt.c). */
TD_INLINE void td_mm2x2_segs_s8(const td_seg2 *seg, int32_t nseg, const int8_t *w, int32_t acc[4]) {
  int32_t a00 = acc[0], a01 = acc[1], a10 = acc[2], a11 = acc[3];
  int32_t k, i, j, col = 0;
  for (k = 0; k < nseg; ++k) {
    const int8_t *x0 = seg[k].x0, *x1 = seg[k].x1;
    const int32_t len = seg[k].len;
    i = 0;
    if ((col & 3) == 0) { /* whole groups */
      for (; i + 4 <= len; i += 4, col += 4) {
        const int8_t *g = w + 2 * col;
        for (j = 0; j < 4; ++j) {
          const int32_t a = x0[i + j], b = x1[i + j], c0 = g[j], c1 = g[4 + j];
          a00 += a * c0;
          a01 += a * c1;
          a10 += b * c0;
          a11 += b * c1;
        }
      }
    }
    for (; i < len; ++i, ++col) {
      const int8_t *g = w + 8 * (col >> 2) + (col & 3);
      const int32_t a = x0[i], b = x1[i], c0 = g[0], c1 = g[4];
      a00 += a * c0;
      a01 += a * c1;
      a10 += b * c0;
      a11 += b * c1;
    }
  }
  acc[0] = a00;
  acc[1] = a01;
  acc[2] = a10;
  acc[3] = a11;
}

#if defined(TD_DOT_DSP) && defined(__ARM_FEATURE_DSP) && !defined(TD_EMULATE_DSP)
/* 8 inputs x 4 units per step: 46 instructions per 32 MACs, all in registers; the index counts up from -n8
 * to 0 so that its increment sets the loop's flags (the step ends with that increment) */
#define TD_MV1X4_STEP8 \
  "ldr %[X], [%[xe], %[idx]]\n\t" \
  "adds %[idx], %[idx], #4\n\t" \
  "ldr %[Y], [%[xe], %[idx]]\n\t" \
  "sxtb16 %[T], %[X], ror #8\n\t" \
  "sxtb16 %[X], %[X]\n\t" \
  "sxtb16 %[U], %[Y], ror #8\n\t" \
  "sxtb16 %[Y], %[Y]\n\t" \
  "ldr %[W], [%[pw]], #4\n\t" \
  "sxtb16 %[V], %[W]\n\t" \
  "smlad %[a0], %[X], %[V], %[a0]\n\t" \
  "sxtb16 %[W], %[W], ror #8\n\t" \
  "smlad %[a0], %[T], %[W], %[a0]\n\t" \
  "ldr %[W], [%[pw]], #4\n\t" \
  "sxtb16 %[V], %[W]\n\t" \
  "smlad %[a1], %[X], %[V], %[a1]\n\t" \
  "sxtb16 %[W], %[W], ror #8\n\t" \
  "smlad %[a1], %[T], %[W], %[a1]\n\t" \
  "ldr %[W], [%[pw]], #4\n\t" \
  "sxtb16 %[V], %[W]\n\t" \
  "smlad %[a2], %[X], %[V], %[a2]\n\t" \
  "sxtb16 %[W], %[W], ror #8\n\t" \
  "smlad %[a2], %[T], %[W], %[a2]\n\t" \
  "ldr %[W], [%[pw]], #4\n\t" \
  "sxtb16 %[V], %[W]\n\t" \
  "smlad %[a3], %[X], %[V], %[a3]\n\t" \
  "sxtb16 %[W], %[W], ror #8\n\t" \
  "smlad %[a3], %[T], %[W], %[a3]\n\t" \
  "ldr %[W], [%[pw]], #4\n\t" \
  "sxtb16 %[V], %[W]\n\t" \
  "smlad %[a0], %[Y], %[V], %[a0]\n\t" \
  "sxtb16 %[W], %[W], ror #8\n\t" \
  "smlad %[a0], %[U], %[W], %[a0]\n\t" \
  "ldr %[W], [%[pw]], #4\n\t" \
  "sxtb16 %[V], %[W]\n\t" \
  "smlad %[a1], %[Y], %[V], %[a1]\n\t" \
  "sxtb16 %[W], %[W], ror #8\n\t" \
  "smlad %[a1], %[U], %[W], %[a1]\n\t" \
  "ldr %[W], [%[pw]], #4\n\t" \
  "sxtb16 %[V], %[W]\n\t" \
  "smlad %[a2], %[Y], %[V], %[a2]\n\t" \
  "sxtb16 %[W], %[W], ror #8\n\t" \
  "smlad %[a2], %[U], %[W], %[a2]\n\t" \
  "ldr %[W], [%[pw]], #4\n\t" \
  "sxtb16 %[V], %[W]\n\t" \
  "smlad %[a3], %[Y], %[V], %[a3]\n\t" \
  "sxtb16 %[W], %[W], ror #8\n\t" \
  "smlad %[a3], %[U], %[W], %[a3]\n\t" \
  "adds %[idx], %[idx], #4\n\t"
#define TD_MV1X4_OPERANDS                                                                                 \
  : [idx] "+r"(idx), [pw] "+r"(pw), [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [X] "=&r"(X), \
    [T] "=&r"(T), [Y] "=&r"(Y), [U] "=&r"(U), [W] "=&r"(W), [V] "=&r"(V)                                   \
  : [xe] "r"(xe)                                                                                          \
  : "cc", "memory"
#endif

/* One input row against four weight rows packed offline (tinydeploy.aot.ops.conv2d.pack_rows(rows, 4)):
 * per 4-value chunk k < n & ~3 four bytes of each row in turn, then the n % 4 tail of each row in turn.
 * acc[j] += x . wj (fully connected layers: every weight is used once, each input word four times). */
TD_INLINE void td_mv1x4_packed_s8(const int8_t *x, const int8_t *w, int32_t n, int32_t acc[4]) {
  const int32_t n4 = n & ~3;
  int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
  int32_t i, j;
#if defined(TD_DOT_DSP) && defined(__ARM_FEATURE_DSP) && !defined(TD_EMULATE_DSP)
  const int32_t n8 = n & ~7;
  if (n8 > 0) {
    /* 8 inputs x 4 units per step: 46 instructions per 32 MACs, all in registers; the index counts up
     * from -n8 to 0 so that its increment sets the loop's flags */
    const int8_t *const xe = x + n8;
    const int8_t *pw = w;
    int32_t idx = -n8;
    uint32_t X, T, Y, U, W, V;
    __asm__ volatile("1:\n\t" TD_MV1X4_STEP8 "bne 1b\n\t" TD_MV1X4_OPERANDS);
  }
  if (n8 < n4) { /* one more 4-value chunk */
    const uint32_t vx = td_load4(x + n8);
    const uint32_t ve = td_sxtb16(vx), vo = td_sxtb16_ror8(vx);
    const int8_t *c = w + 4 * n8;
    uint32_t v;
    v = td_load4(c);
    a0 = td_smlad(vo, td_sxtb16_ror8(v), td_smlad(ve, td_sxtb16(v), a0));
    v = td_load4(c + 4);
    a1 = td_smlad(vo, td_sxtb16_ror8(v), td_smlad(ve, td_sxtb16(v), a1));
    v = td_load4(c + 8);
    a2 = td_smlad(vo, td_sxtb16_ror8(v), td_smlad(ve, td_sxtb16(v), a2));
    v = td_load4(c + 12);
    a3 = td_smlad(vo, td_sxtb16_ror8(v), td_smlad(ve, td_sxtb16(v), a3));
  }
#elif defined(TD_DOT_DSP)
  for (i = 0; i < n4; i += 4) {
    const uint32_t vx = td_load4(x + i);
    const uint32_t xe = td_sxtb16(vx), xo = td_sxtb16_ror8(vx);
    const int8_t *c = w + 4 * i;
    uint32_t v;
    v = td_load4(c);
    a0 = td_smlad(xo, td_sxtb16_ror8(v), td_smlad(xe, td_sxtb16(v), a0));
    v = td_load4(c + 4);
    a1 = td_smlad(xo, td_sxtb16_ror8(v), td_smlad(xe, td_sxtb16(v), a1));
    v = td_load4(c + 8);
    a2 = td_smlad(xo, td_sxtb16_ror8(v), td_smlad(xe, td_sxtb16(v), a2));
    v = td_load4(c + 12);
    a3 = td_smlad(xo, td_sxtb16_ror8(v), td_smlad(xe, td_sxtb16(v), a3));
  }
#else
  for (i = 0; i < n4; i += 4) {
    const int8_t *c = w + 4 * i;
    for (j = 0; j < 4; ++j) {
      const int32_t xv = x[i + j];
      a0 += xv * c[j];
      a1 += xv * c[4 + j];
      a2 += xv * c[8 + j];
      a3 += xv * c[12 + j];
    }
  }
#endif
  {
    const int32_t tail = n - n4;
    const int8_t *t = w + 4 * n4;
    for (j = 0; j < tail; ++j) {
      const int32_t xv = x[n4 + j];
      a0 += xv * t[j];
      a1 += xv * t[tail + j];
      a2 += xv * t[2 * tail + j];
      a3 += xv * t[3 * tail + j];
    }
  }
  (void)i;
  acc[0] = a0;
  acc[1] = a1;
  acc[2] = a2;
  acc[3] = a3;
}

/* td_mv1x4_packed_s8 for n a positive multiple of 8: the DSP loop alone (no tails to link). */
TD_INLINE void td_mv1x4_packed8_s8(const int8_t *x, const int8_t *w, int32_t n, int32_t acc[4]) {
#if defined(TD_DOT_DSP) && defined(__ARM_FEATURE_DSP) && !defined(TD_EMULATE_DSP)
  int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
  const int8_t *const xe = x + n;
  const int8_t *pw = w;
  int32_t idx = -n;
  uint32_t X, T, Y, U, W, V;
  __asm__ volatile("1:\n\t" TD_MV1X4_STEP8 "bne 1b\n\t" TD_MV1X4_OPERANDS);
  acc[0] = a0;
  acc[1] = a1;
  acc[2] = a2;
  acc[3] = a3;
#else
  td_mv1x4_packed_s8(x, w, n, acc);
#endif
}

/* With an input offset: acc + sum((x[i] + offset) * w[i]), |offset| <= 255 (the reference formula, used
 * where a window meets the padding so the zero-point term cannot be folded). */
TD_INLINE int32_t td_dot_s8_off(const int8_t *x, const int8_t *w, int32_t n, int32_t offset, int32_t acc) {
  int32_t i = 0;
#if defined(TD_DOT_MVE)
  for (; i < n; i += 8) {
    const mve_pred16_t p = vctp16q((uint32_t)(n - i));
    const int16x8_t xv = vaddq_n_s16(vldrbq_z_s16(x + i, p), (int16_t)offset);
    acc = vmladavaq_p_s16(acc, xv, vldrbq_z_s16(w + i, p), p);
  }
  return acc;
#else
#if defined(TD_DOT_DSP)
  const uint32_t off2 = ((uint32_t)(uint16_t)offset << 16) | (uint16_t)offset;
  for (; i + 4 <= n; i += 4) {
    const uint32_t vx = td_load4(x + i), vw = td_load4(w + i);
    acc = td_smlad(td_sxtab16(off2, vx), td_sxtb16(vw), acc);
    acc = td_smlad(td_sxtab16_ror8(off2, vx), td_sxtb16_ror8(vw), acc);
  }
#endif
  for (; i < n; ++i) acc += ((int32_t)x[i] + offset) * (int32_t)w[i];
  return acc;
#endif
}

/* Two of td_dot_s8_off sharing x. */
TD_INLINE void td_dot2_s8_off(const int8_t *x, const int8_t *w0, const int8_t *w1, int32_t n, int32_t offset,
                              int32_t *acc0, int32_t *acc1) {
#if defined(TD_DOT_MVE)
  *acc0 = td_dot_s8_off(x, w0, n, offset, *acc0);
  *acc1 = td_dot_s8_off(x, w1, n, offset, *acc1);
#else
  int32_t i = 0;
  int32_t s0 = *acc0, s1 = *acc1;
#if defined(TD_DOT_DSP)
  const uint32_t off2 = ((uint32_t)(uint16_t)offset << 16) | (uint16_t)offset;
  for (; i + 4 <= n; i += 4) {
    const uint32_t vx = td_load4(x + i);
    const uint32_t xe = td_sxtab16(off2, vx), xo = td_sxtab16_ror8(off2, vx);
    const uint32_t v0 = td_load4(w0 + i), v1 = td_load4(w1 + i);
    s0 = td_smlad(xe, td_sxtb16(v0), s0);
    s0 = td_smlad(xo, td_sxtb16_ror8(v0), s0);
    s1 = td_smlad(xe, td_sxtb16(v1), s1);
    s1 = td_smlad(xo, td_sxtb16_ror8(v1), s1);
  }
#endif
  for (; i < n; ++i) {
    const int32_t xi = (int32_t)x[i] + offset;
    s0 += xi * (int32_t)w0[i];
    s1 += xi * (int32_t)w1[i];
  }
  *acc0 = s0;
  *acc1 = s1;
#endif
}

/* td_mul_by_quantized_multiplier for a multiplier in [2^30, 2^31) or 0, as QuantizeMultiplier produces:
 * the doubling high multiply's saturation case (both operands INT32_MIN) cannot occur, and gemmlowp's
 * sign-dependent nudge with a truncating division equals adding 2^30 and shifting arithmetically (for a
 * negative product -y, y = q * 2^31 + r: both round up exactly when r > 2^30).  One multiply-accumulate
 * and a shift instead of a 64-bit division. */
TD_INLINE int32_t td_requant_mul(int32_t x, int32_t mult, int32_t shift) {
  const int left = shift > 0 ? shift : 0;
  const int right = shift > 0 ? 0 : -shift;
  const int64_t prod = (int64_t)(int32_t)((uint32_t)x << left) * mult + (1LL << 30);
  const int32_t high = (int32_t)(prod >> 31);
  const int32_t mask = (int32_t)((1LL << right) - 1);
  const int32_t threshold = (mask >> 1) + (high < 0 ? 1 : 0);
  return (high >> right) + ((high & mask) > threshold ? 1 : 0);
}

/* The requantization tail shared by every int8 matrix kernel. */
TD_INLINE int8_t td_requant_s8(int32_t acc, int32_t mult, int32_t shift, int32_t out_offset, int32_t lo,
                               int32_t hi) {
  acc = td_requant_mul(acc, mult, shift) + out_offset;
  return (int8_t)td_clamp_i32(acc, lo, hi);
}

/* The rounded high half (x * mult + 2^30) >> 31 for |x| < 2^30: one SMMULR of 2x. */
TD_INLINE int32_t td_high_mul_fast(int32_t x, int32_t mult) {
  int32_t high;
#if defined(__ARM_FEATURE_DSP) && !defined(TD_EMULATE_DSP)
  __asm__("smmulr %0, %1, %2" : "=r"(high) : "r"(x * 2), "r"(mult));
#else
  high = (int32_t)(((int64_t)(x * 2) * mult + (1LL << 31)) >> 32);
#endif
  return high;
}

/* td_requant_mul for a right shift (shift <= -1) and |x| < 2^30, which the generator proves at build time
 * from the bias and the weights (tinydeploy.aot.ops.conv2d.fast_requant_ok): then 2x fits an int32, the
 * rounded high half (x * mult + 2^30) >> 31 is one SMMULR of 2x by mult, |high| < 2^30, and gemmlowp's
 * round-half-away-from-zero division by 2^e is (high + (high < 0 ? -1 : 0) + 2^(e-1)) >> e, with no
 * overflow.  Four instructions instead of a 64-bit multiply-add and a masked compare. */
TD_INLINE int32_t td_requant_mul_fast(int32_t x, int32_t mult, int32_t shift) {
  const int32_t e = -shift;
  const int32_t high = td_high_mul_fast(x, mult);
  return (high + (high >> 31) + (1 << (e - 1))) >> e;
}

TD_INLINE int8_t td_requant_fast_s8(int32_t acc, int32_t mult, int32_t shift, int32_t out_offset, int32_t lo,
                                    int32_t hi) {
  acc = td_requant_mul_fast(acc, mult, shift) + out_offset;
  return (int8_t)td_clamp_i32(acc, lo, hi);
}

/* td_requant_fast_s8 with the generator's table entry t = {mult, e, 2^(e-1) + out_offset * 2^e}
 * (tinydeploy.aot.ops.conv2d.fast_requant_table), before the clamp: adding a multiple of 2^e before the
 * floor shift adds out_offset after it, and the table is only emitted when no sum can overflow. */
TD_INLINE int32_t td_requant_table(int32_t acc, const int32_t *t) {
  const int32_t high = td_high_mul_fast(acc, t[0]);
  return (high + (high >> 31) + t[2]) >> t[1];
}

/* td_requant_table with the entry's three words in registers: {mult, e, 2^(e-1) + out_offset * 2^e}. */
TD_INLINE int32_t td_requant_mke(int32_t acc, int32_t mult, int32_t e, int32_t k) {
  const int32_t high = td_high_mul_fast(acc, mult);
  return (high + (high >> 31) + k) >> e;
}

/* Saturation to int8: one SSAT where the core has it. */
TD_INLINE int8_t td_sat_s8(int32_t v) {
#if defined(TD_HAVE_ACLE)
  return (int8_t)__ssat(v, 8);
#else
  return (int8_t)td_clamp_i32(v, -128, 127);
#endif
}

/* A layer descriptor's int16 geometry widened into the kernel's int32 parameter fields (conv2d_s8_opt.h,
 * depthwise_conv2d_s8_opt.h: the descriptors store the parameter structs' fields in order, as int16). */
TD_INLINE void td_widen_geom(int32_t *field, const int16_t *geom, int32_t n) {
  int32_t i;
  for (i = 0; i < n; ++i) field[i] = geom[i];
}

/* td_requant and its loops (requant_row_s8.c): the block requantization the optimized matrix kernels share. */
#include "requant_row_s8.h"

#endif /* TD_DOT_S8_H */
