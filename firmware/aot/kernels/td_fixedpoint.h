/* td_fixedpoint.h - integer requantization exactly as TFLite Micro's reference kernels do it.
 *
 * TFLM requantizes with gemmlowp's double rounding: a saturating rounding doubling high multiply by a Q31
 * multiplier, then a rounding arithmetic right shift (round half away from zero).  These helpers are the
 * bit-exactness core of every aot kernel; do not "simplify" them into a single rounding.
 */
#ifndef TD_FIXEDPOINT_H
#define TD_FIXEDPOINT_H

#include <stdint.h>

#define TD_INLINE static inline __attribute__((always_inline))

TD_INLINE int32_t td_min_i32(int32_t a, int32_t b) { return a < b ? a : b; }
TD_INLINE int32_t td_max_i32(int32_t a, int32_t b) { return a > b ? a : b; }
TD_INLINE int32_t td_clamp_i32(int32_t x, int32_t lo, int32_t hi) { return x < lo ? lo : (x > hi ? hi : x); }

/* (a * b * 2) >> 32 with rounding to nearest; saturates the single overflow case INT32_MIN * INT32_MIN. */
TD_INLINE int32_t td_sat_rounding_doubling_high_mul(int32_t a, int32_t b) {
  if (a == b && a == INT32_MIN) return INT32_MAX;
  int64_t ab = (int64_t)a * (int64_t)b;
  int32_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
  return (int32_t)((ab + nudge) / (1LL << 31));
}

/* x / 2^exponent, rounding half away from zero (gemmlowp RoundingDivideByPOT), 0 <= exponent <= 31. */
TD_INLINE int32_t td_rounding_divide_by_pot(int32_t x, int exponent) {
  const int32_t mask = (int32_t)((1LL << exponent) - 1);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* x * multiplier * 2^shift, multiplier a Q31 in [2^30, 2^31), shift as produced by QuantizeMultiplier
 * (positive: left shift before the multiply; negative: rounding right shift after it). */
TD_INLINE int32_t td_mul_by_quantized_multiplier(int32_t x, int32_t multiplier, int shift) {
  const int left_shift = shift > 0 ? shift : 0;
  const int right_shift = shift > 0 ? 0 : -shift;
  return td_rounding_divide_by_pot(
      td_sat_rounding_doubling_high_mul((int32_t)((uint32_t)x << left_shift), multiplier), right_shift);
}

/* TFLM's MultiplyByQuantizedMultiplierSmallerThanOneExp: shift <= 0. */
TD_INLINE int32_t td_mul_by_quantized_multiplier_smaller_than_one(int32_t x, int32_t multiplier, int shift) {
  return td_rounding_divide_by_pot(td_sat_rounding_doubling_high_mul(x, multiplier), -shift);
}

/* TFLM's MultiplyByQuantizedMultiplierGreaterThanOne: shift >= 0. */
TD_INLINE int32_t td_mul_by_quantized_multiplier_greater_than_one(int32_t x, int32_t multiplier, int shift) {
  return td_sat_rounding_doubling_high_mul((int32_t)((uint32_t)x << shift), multiplier);
}

/* TFLM's MultiplyByQuantizedMultiplier for an int64 accumulator (the 16x8 kernels): the Q31 multiplier
 * rounded to Q15, one rounding shift.  |x| < 2^47 and a result that fits int32, as TFLM assumes. */
TD_INLINE int32_t td_mul_by_quantized_multiplier_s64(int64_t x, int32_t multiplier, int shift) {
  const int32_t reduced = multiplier < 0x7FFF0000 ? ((multiplier + (1 << 15)) >> 16) : 0x7FFF;
  const int total_shift = 15 - shift;
  const int64_t rounded = x * (int64_t)reduced + ((int64_t)1 << (total_shift - 1));
  return (int32_t)(rounded >> total_shift);
}

#endif /* TD_FIXEDPOINT_H */
