/* l2_normalization.h - L2_NORMALIZATION over the last axis (int8 and float32), bit-exact with TFLite Micro. */
#ifndef TD_L2_NORMALIZATION_H
#define TD_L2_NORMALIZATION_H

#include <stdint.h>

/* int8 (output scale 1/128, zero point 0, as TFLM requires): per row the int32 sum of (x - in_zp)^2 gives
 * 1/sqrt(sum) as a Q31 multiplier and shift (TFLite's GetInvSqrtQuantizedMultiplierExp, Newton-Raphson in
 * gemmlowp fixed point); each output is (x - in_zp) times it, shifted left 7, clamped.  out may equal in
 * (a row's sum is taken first, then element c is read before element c is written). */
void td_l2_normalization_s8(const int8_t *in, int8_t *out, int32_t outer, int32_t depth, int32_t in_zp);

/* Float: x / max(sqrtf(sum of squares in order), 1e-6f).  out may equal in (the norm is taken first). */
void td_l2_normalization_f32(const float *in, float *out, int32_t outer, int32_t depth);

#endif /* TD_L2_NORMALIZATION_H */
