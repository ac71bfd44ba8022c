/* softmax_s8.h - int8 SOFTMAX, bit-exact with TFLite Micro's reference kernel. */
#ifndef TD_SOFTMAX_S8_H
#define TD_SOFTMAX_S8_H

#include <stdint.h>

/* Softmax over the innermost `depth` elements of each of `outer` rows.
 * beta_multiplier / beta_left_shift scale (input - row max) by beta * input_scale into Q5.26 (TFLM's
 * PreprocessSoftmaxScaling); differences below diff_min (TFLM's -CalculateInputRadius) output the minimum.
 * int8 output: scale 1/256, zero point -128.  int16 output: scale 1/65536, zero point -32768.
 * td_softmax_s8 may run in place (out == in). */
void td_softmax_s8(const int8_t *in, int8_t *out, int32_t outer, int32_t depth,
                   int32_t beta_multiplier, int32_t beta_left_shift, int32_t diff_min);
void td_softmax_s8_s16(const int8_t *in, int16_t *out, int32_t outer, int32_t depth,
                       int32_t beta_multiplier, int32_t beta_left_shift, int32_t diff_min);

#endif /* TD_SOFTMAX_S8_H */
