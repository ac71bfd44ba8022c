/* requantize_s16.h - QUANTIZE int16 -> int16 (a requantization), bit-exact with TFLite Micro's Requantize. */
#ifndef TD_REQUANTIZE_S16_H
#define TD_REQUANTIZE_S16_H

#include <stdint.h>

/* out = clamp(out_zp + (in - in_zp) * M) with M = in_scale / out_scale as a Q31 multiplier and shift.
 * output may alias input. */
void td_requantize_s16_s16(const int16_t *input, int16_t *output, int32_t n, int32_t input_zero_point,
                           int32_t multiplier, int32_t shift, int32_t output_zero_point);

#endif /* TD_REQUANTIZE_S16_H */
