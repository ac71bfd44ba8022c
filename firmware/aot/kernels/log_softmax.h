/* log_softmax.h - LOG_SOFTMAX over the last axis, the dtypes TFLite Micro runs: float32 and int8. */
#ifndef TD_LOG_SOFTMAX_H
#define TD_LOG_SOFTMAX_H

#include <stdint.h>

/* TFLM's reference: x - max - logf(sum of expf(x - max)), the sum taken in order from 0.0f.
 * out may equal in (each row's max and sum are taken before it is written). */
void td_log_softmax_f32(const float *in, float *out, int32_t outer, int32_t depth);

/* int8 (output scale 16/256, zero point 127, as TFLM requires), TFLM's reference_integer_ops::LogSoftmax:
 * differences to the row max scaled into Q5.26 by input_multiplier << input_left_shift, exp summed in
 * Q12.19 over differences >= diff_min, the sum's log in Q5.26 (gemmlowp fixed point), then each output is
 * (diff - log sum) in Q4.27 plus 127; differences at or below the reverse-scaled log sum give -128.
 * Parameters from PreprocessLogSoftmaxScalingExp (tinydeploy.aot.ops.norm).  out may equal in. */
void td_log_softmax_s8(const int8_t *in, int8_t *out, int32_t outer, int32_t depth, int32_t input_multiplier,
                       int32_t input_left_shift, int32_t reverse_multiplier, int32_t reverse_shift,
                       int32_t diff_min);

#endif /* TD_LOG_SOFTMAX_H */
