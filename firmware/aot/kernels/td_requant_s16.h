/* td_requant_s16.h - the requantization the 16x8 kernels (int16 activations, int8 weights) share.
 *
 * TFLM's 16x8 CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED accumulate in the bias's type: with an int64
 * bias (what the converter writes) the int64 accumulator goes through MultiplyByQuantizedMultiplier's int64
 * overload (Q15-reduced multiplier, one rounding shift), and so does a layer without a bias; with an int32
 * bias the int32 accumulator (wrapping as TFLM's does) takes gemmlowp's double rounding. */
#ifndef TD_REQUANT_S16_H
#define TD_REQUANT_S16_H

#include <stdint.h>

#include "td_fixedpoint.h"

/* How the bias pointer is read and which accumulator width TFLM uses. */
enum { TD_ACC32_NO_BIAS = 0, /* unused by TFLM's kernels today */ TD_ACC32_BIAS32 = 1, TD_ACC64_NO_BIAS = 2, TD_ACC64_BIAS64 = 3 };

/* acc: the exact sum of products (|acc| < 2^47); returns the clamped int16 output value. */
TD_INLINE int16_t td_requant_s16(int64_t acc, const void *bias, int32_t channel, int32_t bias_kind,
                                 int32_t mult, int32_t shift, int32_t act_min, int32_t act_max) {
  int32_t scaled;
  if (bias_kind >= TD_ACC64_NO_BIAS) {
    if (bias_kind == TD_ACC64_BIAS64) acc += ((const int64_t *)bias)[channel];
    scaled = td_mul_by_quantized_multiplier_s64(acc, mult, shift);
  } else {
    uint32_t acc32 = (uint32_t)acc;
    if (bias_kind == TD_ACC32_BIAS32) acc32 += (uint32_t)((const int32_t *)bias)[channel];
    scaled = td_mul_by_quantized_multiplier((int32_t)acc32, mult, shift);
  }
  return (int16_t)td_clamp_i32(scaled, act_min, act_max);
}

#endif /* TD_REQUANT_S16_H */
