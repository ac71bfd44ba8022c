/* td_gemmlowp.h - gemmlowp-style fixed-point transcendental functions, bit-exact with TFLite Micro.
 *
 * TFLM's int8 SOFTMAX, LOGISTIC and TANH reference kernels evaluate exp, 1/(1+x), logistic and tanh on
 * 32-bit fixed-point numbers with a compile-time number of integer bits (gemmlowp's FixedPoint<int32_t, I>).
 * Here a fixed-point value is a plain int32_t "raw" value and the integer-bit count is a function argument;
 * every helper reproduces the exact rounding and saturation of the original algorithm, because a one-LSB
 * difference in an intermediate shows up as a differing output code.
 *
 * Conventions: `qI` in a name means the value has I integer bits and 31 - I fractional bits.  Additions and
 * subtractions wrap like gemmlowp's int32 Add/Sub (done in uint32_t so that C has no undefined behaviour);
 * the algorithms keep them in range.
 */
#ifndef TD_GEMMLOWP_H
#define TD_GEMMLOWP_H

#include <stdint.h>

#include "td_fixedpoint.h"

/* Wrapping int32 arithmetic (gemmlowp's Add/Sub/Neg on int32 raw values). */
TD_INLINE int32_t td_fp_add(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }
TD_INLINE int32_t td_fp_sub(int32_t a, int32_t b) { return (int32_t)((uint32_t)a - (uint32_t)b); }
TD_INLINE int32_t td_fp_neg(int32_t a) { return (int32_t)(0u - (uint32_t)a); }

/* Product of two fixed-point numbers: the integer bits add up, the raw value is the doubling high mul. */
TD_INLINE int32_t td_fp_mul(int32_t a, int32_t b) { return td_sat_rounding_doubling_high_mul(a, b); }

/* x * 2^exponent with rounding (exponent < 0) or saturation (exponent > 0): SaturatingRoundingMultiplyByPOT. */
TD_INLINE int32_t td_fp_mul_by_pot(int32_t x, int exponent) {
  if (exponent < 0) return td_rounding_divide_by_pot(x, -exponent);
  if (exponent == 0) return x;
  const int32_t threshold = (int32_t)((1u << (31 - exponent)) - 1u);
  if (x > threshold) return INT32_MAX;
  if (x < -threshold) return INT32_MIN;
  return (int32_t)((uint32_t)x << exponent);
}

/* Change the number of integer bits of a value from src_bits to dst_bits (gemmlowp Rescale). */
TD_INLINE int32_t td_fp_rescale(int32_t x, int src_bits, int dst_bits) {
  return td_fp_mul_by_pot(x, src_bits - dst_bits);
}

/* (a + b) / 2 rounded half away from zero, computed without overflow (gemmlowp RoundingHalfSum). */
TD_INLINE int32_t td_fp_rounding_half_sum(int32_t a, int32_t b) {
  const int64_t sum = (int64_t)a + (int64_t)b;
  const int64_t sign = sum >= 0 ? 1 : -1;
  return (int32_t)((sum + sign) / 2);
}

#define TD_FP_Q0_ONE INT32_MAX /* 1.0 is not representable in Q0.31: gemmlowp uses the largest value */

/* exp(a) for a in [-1/4, 0), a in Q0.31: a 4th-order Taylor expansion around -1/8. */
static inline int32_t td_fp_exp_on_interval_neg_quarter_to_0(int32_t a) {
  const int32_t exp_minus_one_eighth = 1895147668; /* exp(-1/8) in Q0.31 */
  const int32_t one_third = 715827883;             /* 1/3 in Q0.31 */
  const int32_t x = td_fp_add(a, 1 << 28);         /* x = a + 1/8 */
  const int32_t x2 = td_fp_mul(x, x);
  const int32_t x3 = td_fp_mul(x2, x);
  const int32_t x4 = td_fp_mul(x2, x2);
  const int32_t x4_over_4 = td_fp_mul_by_pot(x4, -2);
  const int32_t poly = td_fp_mul_by_pot(td_fp_add(td_fp_mul(td_fp_add(x4_over_4, x3), one_third), x2), -1);
  return td_fp_add(exp_minus_one_eighth, td_fp_mul(exp_minus_one_eighth, td_fp_add(x, poly)));
}

/* exp(a) for a <= 0 with `int_bits` integer bits (1..6 used here); the result is in Q0.31.
 * The fractional part modulo 1/4 goes through the Taylor expansion, then every set bit of the remaining
 * magnitude multiplies by the constant exp(-2^k) (a barrel shifter over k = -2 .. int_bits - 1). */
static inline int32_t td_fp_exp_on_negative_values(int32_t a, int int_bits) {
  static const int32_t exp_of_minus_pot[7] = {
      /* exp(-1/4), exp(-1/2), exp(-1), exp(-2), exp(-4), exp(-8), exp(-16) in Q0.31 */
      1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242,
  };
  const int frac_bits = 31 - int_bits;
  const int32_t one_quarter = (int32_t)1 << (frac_bits - 2);
  const int32_t mask = one_quarter - 1;
  const int32_t a_mod_quarter_minus_quarter = td_fp_sub(a & mask, one_quarter);
  int32_t result = td_fp_exp_on_interval_neg_quarter_to_0(td_fp_rescale(a_mod_quarter_minus_quarter, int_bits, 0));
  const int32_t remainder = td_fp_sub(a_mod_quarter_minus_quarter, a);
  for (int k = -2; k <= 4 && k < int_bits; ++k) {
    if (remainder & (int32_t)(1u << (frac_bits + k))) result = td_fp_mul(result, exp_of_minus_pot[k + 2]);
  }
  if (int_bits > 5) { /* below -32 the result underflows to zero */
    const int32_t minus_32 = -((int32_t)1 << (36 - int_bits));
    if (a < minus_32) result = 0;
  }
  return a == 0 ? TD_FP_Q0_ONE : result;
}

/* 1 / d for d = (1 + a) / 2 in [1/2, 1] (Q0.31), by three Newton-Raphson steps from the start value
 * 48/17 - 32/17 d; the result, in [1, 2], is in Q2.29.  Then 1/(1+a) = result / 2 and
 * (1-a)/(1+a) = result - 1. */
static inline int32_t td_fp_reciprocal_of_half_denominator_q2(int32_t half_denominator) {
  const int32_t c48_over_17 = 1515870810;       /* 48/17 in Q2.29 */
  const int32_t c_neg_32_over_17 = -1010580540; /* -32/17 in Q2.29 */
  const int32_t one_q2 = 1 << 29;
  int32_t x = td_fp_add(c48_over_17, td_fp_mul(half_denominator, c_neg_32_over_17));
  for (int i = 0; i < 3; ++i) {
    const int32_t half_denominator_times_x = td_fp_mul(half_denominator, x);           /* Q2 */
    const int32_t one_minus_half_denominator_times_x = td_fp_sub(one_q2, half_denominator_times_x);
    x = td_fp_add(x, td_fp_rescale(td_fp_mul(x, one_minus_half_denominator_times_x), 4, 2));
  }
  return x;
}

/* 1 / (1 + a) for a in [0, 1], Q0.31 in and out. */
static inline int32_t td_fp_one_over_one_plus_x_for_x_in_0_1(int32_t a) {
  const int32_t half_denominator = td_fp_rounding_half_sum(a, TD_FP_Q0_ONE);
  const int32_t x = td_fp_reciprocal_of_half_denominator_q2(half_denominator);
  /* x / 2: the same raw value read as Q1.30, then rescaled to Q0.31. */
  return td_fp_rescale(x, 1, 0);
}

/* (1 - a) / (1 + a) for a in [0, 1], Q0.31 in and out. */
static inline int32_t td_fp_one_minus_x_over_one_plus_x_for_x_in_0_1(int32_t a) {
  const int32_t half_denominator = td_fp_rounding_half_sum(a, TD_FP_Q0_ONE);
  const int32_t x = td_fp_reciprocal_of_half_denominator_q2(half_denominator);
  return td_fp_rescale(td_fp_sub(x, 1 << 29), 2, 0);
}

/* logistic(a) = 1 / (1 + exp(-a)), a with `int_bits` integer bits, result in Q0.31. */
static inline int32_t td_fp_logistic(int32_t a, int int_bits) {
  if (a == 0) return 1 << 30; /* exactly one half */
  const int32_t abs_a = a > 0 ? a : td_fp_neg(a);
  const int32_t positive = td_fp_one_over_one_plus_x_for_x_in_0_1(td_fp_exp_on_negative_values(td_fp_neg(abs_a), int_bits));
  return a > 0 ? positive : td_fp_sub(TD_FP_Q0_ONE, positive);
}

/* tanh(a), a with `int_bits` integer bits, result in Q0.31.  tanh(-n) for n <= 0 is (1 - e^2n) / (1 + e^2n);
 * 2n is the same raw value read with one more integer bit. */
static inline int32_t td_fp_tanh(int32_t a, int int_bits) {
  if (a == 0) return 0;
  const int32_t n = a < 0 ? a : td_fp_neg(a);
  const int32_t t = td_fp_one_minus_x_over_one_plus_x_for_x_in_0_1(td_fp_exp_on_negative_values(n, int_bits + 1));
  return a < 0 ? td_fp_neg(t) : t;
}

/* 1 / x for a positive accumulator x with `int_bits` integer bits (TFLite GetReciprocal): returns the
 * reciprocal of x normalized into [1, 2) as a Q0.31 value and the number of bits x had above one. */
static inline int32_t td_fp_reciprocal(int32_t x, int int_bits, int *num_bits_over_unit) {
  const int headroom_plus_one = __builtin_clz((uint32_t)x);
  *num_bits_over_unit = int_bits - headroom_plus_one;
  const int32_t shifted_minus_one = (int32_t)(((uint32_t)x << headroom_plus_one) - (1u << 31));
  return td_fp_one_over_one_plus_x_for_x_in_0_1(shifted_minus_one);
}

#endif /* TD_GEMMLOWP_H */
