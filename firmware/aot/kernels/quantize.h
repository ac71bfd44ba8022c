/* quantize.h - QUANTIZE (float32 -> int8/int16, int8 -> int8 requantize) and DEQUANTIZE (int8 -> float32),
 * bit-exact with TFLM's reference kernels. */
#ifndef TD_QUANTIZE_H
#define TD_QUANTIZE_H

#include <stdint.h>

/* q = clamp(round_half_away(x / scale) + zero_point) -- the division is done in float, as TFLM does. */
void td_quantize_f32_s8(const float *input, int8_t *output, int32_t n, float scale, int32_t zero_point);
void td_quantize_f32_s16(const float *input, int16_t *output, int32_t n, float scale, int32_t zero_point);

/* q = clamp(MultiplyByQuantizedMultiplier(x - in_zp, mult, shift) + out_zp).  Safe in place. */
void td_requantize_s8_s8(const int8_t *input, int8_t *output, int32_t n, int32_t input_zero_point,
                         int32_t mult, int32_t shift, int32_t output_zero_point);

#endif /* TD_QUANTIZE_H */
