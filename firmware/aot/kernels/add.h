/* add.h - ADD (int8 and float32) with N-D broadcasting, bit-exact with TFLite Micro's reference kernels. */
#ifndef TD_ADD_H
#define TD_ADD_H

#include <stdint.h>

#include "td_dot_s8.h"

/* Iteration space of a broadcasting binary op: the output is dense row-major over dims[0..5]; the two
 * inputs are read at element strides sa/sb (0 along a broadcast axis).  The generator merges axes so
 * that the innermost one is as long as possible. */
typedef struct {
  int32_t dims[6];
  int32_t sa[6];
  int32_t sb[6];
} td_bcast6;

/* int8 requantization of TFLM's ADD, as its Prepare computes it: both inputs are shifted left by
 * left_shift (20) and rescaled to twice the larger input scale, summed, then rescaled to the output. */
typedef struct {
  int32_t a_offset, a_multiplier, a_shift; /* offset = -zero_point; shifts <= 0 */
  int32_t b_offset, b_multiplier, b_shift;
  int32_t left_shift;
  int32_t out_multiplier, out_shift, out_offset;
  int32_t act_min, act_max;
} td_add_s8_params;

/* out may alias a (or b) exactly when that input is not broadcast. */
void td_add_s8(const int8_t *a, const int8_t *b, int8_t *out, const td_bcast6 *bc, const td_add_s8_params *p);
void td_add_f32(const float *a, const float *b, float *out, const td_bcast6 *bc, float act_min, float act_max);

/* gemmlowp's RoundingDivideByPOT (round half away from zero) for 0 <= e <= 31 and |h| < 2^30: the floor
 * shift of h + 2^(e-1), one less for negative h (see td_requant_mul_fast).  With a literal e the compiler
 * folds the e == 0 case away. */
TD_INLINE int32_t td_add_rdbpot_fast(int32_t h, int32_t e) {
  return e > 0 ? (h + (h >> 31) + (1 << (e - 1))) >> e : h;
}

/* td_add_s8 over n elements of one row: out[i] from a[i * a_step] and b[i * b_step].  a_step, b_step in
 * {0, 1} (a dense operand or a single value); out may alias a dense operand.
 *
 * Same arithmetic as td_add_s8, each step exact by range: |x + offset| <= 255, so with left_shift <= 20
 * the shifted input is below 2^28 in magnitude, and so is its rescaled value (multiplier < 2^31): the
 * sum is below 2^29.  Every doubling high multiply therefore sees |x| < 2^30, where it is one SMMULR
 * (td_high_mul_fast), and every rounding shift has |h| < 2^30 (td_add_rdbpot_fast).  Preconditions, which
 * the generator checks (tinydeploy.aot.ops.elementwise.add_row_fast_ok): left_shift <= 20, every shift in
 * [-31, 0], multipliers in [2^30, 2^31) or 0.
 *
 * static inline: the generator passes a `static const` parameter block, so every constant, and the shifts
 * above all, become immediates of the call site's loop instead of a register file's worth of spills. */
TD_INLINE void td_add_s8_row(const int8_t *a, int32_t a_step, const int8_t *b, int32_t b_step, int8_t *out,
                             int32_t n, const td_add_s8_params *p) {
  const int32_t a_off = p->a_offset, a_mult = p->a_multiplier, a_e = -p->a_shift;
  const int32_t b_off = p->b_offset, b_mult = p->b_multiplier, b_e = -p->b_shift;
  const int32_t ls = p->left_shift, o_mult = p->out_multiplier, o_e = -p->out_shift, o_off = p->out_offset;
  const int32_t lo = p->act_min, hi = p->act_max;
  for (int32_t i = 0; i < n; ++i) {
    const int32_t xs = (int32_t)((uint32_t)(a[i * a_step] + a_off) << ls);
    const int32_t ys = (int32_t)((uint32_t)(b[i * b_step] + b_off) << ls);
    const int32_t xr = td_add_rdbpot_fast(td_high_mul_fast(xs, a_mult), a_e);
    const int32_t yr = td_add_rdbpot_fast(td_high_mul_fast(ys, b_mult), b_e);
    const int32_t r = td_add_rdbpot_fast(td_high_mul_fast(xr + yr, o_mult), o_e) + o_off;
#if defined(TD_HAVE_ACLE)
    if (lo == -128 && hi == 127) { /* no activation, or ReLU at zero point -128: one SSAT */
      out[i] = (int8_t)__ssat(r, 8);
      continue;
    }
#endif
    out[i] = (int8_t)td_clamp_i32(r, lo, hi);
  }
}

#endif /* TD_ADD_H */
