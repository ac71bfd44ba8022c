/* td_requant_mve.h - TFLM's per-channel requantization on four int32 lanes with Helium (Cortex-M55).
 *
 * TFLM's MultiplyByQuantizedMultiplier(x, m, s) is x * 2^max(s, 0), then gemmlowp's saturating rounding
 * doubling high multiply by m, then RoundingDivideByPOT by max(-s, 0) (round half away from zero):
 *   - VQRDMULH computes saturate((2 * a * b + 2^31) >> 32), which equals gemmlowp's high multiply for every
 *     input, negative products included (its nudge 1 - 2^30 with truncating division lands on the same
 *     integer as +2^30 with flooring), and saturates the same single case INT32_MIN * INT32_MIN;
 *   - VRSHL by -e rounds half up ((x + 2^(e-1)) >> e, computed without overflow); round half away from zero
 *     differs only for negative x, and equals rounding x - 1 half up there.  The fixup subtracts 1 from
 *     negative lanes whose e > 0 (sign of x AND the negative shift operand), saturating at INT32_MIN, whose
 *     quotient is exact either way.
 * The left shift (VSHL by a non-negative register amount) wraps like TFLM's x * (1 << left_shift).
 * Parameters come as four int32 vectors per group of four channels: multiplier, left shift (>= 0), and
 * minus the right shift (<= 0).  Only compiled where __ARM_FEATURE_MVE has the integer extension.
 */
#ifndef TD_REQUANT_MVE_H
#define TD_REQUANT_MVE_H

#include <stdint.h>

#if !defined(TD_NO_SIMD) && defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#define TD_HAVE_MVE 1
#include <arm_mve.h>

#define TD_MVE_INLINE static inline __attribute__((always_inline))

/* MultiplyByQuantizedMultiplier on four lanes (bit-exact, see above). */
TD_MVE_INLINE int32x4_t td_mve_mul_by_qm(int32x4_t x, int32x4_t mult, int32x4_t left, int32x4_t neg_right) {
  x = vshlq_s32(x, left);
  x = vqrdmulhq_s32(x, mult);
  x = vqaddq_s32(x, vshrq_n_s32(vandq_s32(x, neg_right), 31));
  return vrshlq_s32(x, neg_right);
}

/* ... then + output offset and clamped to [act_min, act_max] (int8 codes, still in int32 lanes). */
TD_MVE_INLINE int32x4_t td_mve_requant_s8(int32x4_t acc, const int32_t *rq, int32_t output_offset,
                                          int32x4_t act_min, int32x4_t act_max) {
  int32x4_t y = td_mve_mul_by_qm(acc, vldrwq_s32(rq), vldrwq_s32(rq + 4), vldrwq_s32(rq + 8));
  y = vaddq_n_s32(y, output_offset);
  return vminq_s32(vmaxq_s32(y, act_min), act_max);
}
#endif

#endif /* TD_REQUANT_MVE_H */
