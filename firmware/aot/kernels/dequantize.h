/* dequantize.h - DEQUANTIZE int8/int16 -> float32: (float)(scale * (q - zero_point)) computed in double,
 * as TFLM's reference Dequantize does. */
#ifndef TD_DEQUANTIZE_H
#define TD_DEQUANTIZE_H

#include <stdint.h>

void td_dequantize_s8_f32(const int8_t *input, float *output, int32_t n, double scale, int32_t zero_point);
void td_dequantize_s16_f32(const int16_t *input, float *output, int32_t n, double scale, int32_t zero_point);

#endif /* TD_DEQUANTIZE_H */
