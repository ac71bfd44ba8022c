/* softmax_s16.h - int16 SOFTMAX (input zero point 0, output scale 1/32768 zero point 0), bit-exact with
 * TFLite Micro's SoftmaxInt16.
 *
 * Per row: d = x - max is scaled by input_multiplier / input_left_shift (beta * input_scale / (10 / 65535),
 * so that [-65535, 0] covers exp's [-10, 0]), recentred and looked up in exp_lut; the sum of the exps is
 * normalized, looked up in recip_lut (1 / (1 + x) over [0, 1]) and every exp rescaled by that reciprocal.
 * Both tables have 513 entries (512 steps + one for the last slope), built by the generator as TFLM's
 * Prepare builds them (gen_lut in float32). */
#ifndef TD_SOFTMAX_S16_H
#define TD_SOFTMAX_S16_H

#include <stdint.h>

/* out may alias in. */
void td_softmax_s16(const int16_t *in, int16_t *out, int32_t outer, int32_t depth, int32_t input_multiplier,
                    int32_t input_left_shift, const int16_t *exp_lut, const int16_t *recip_lut);

#endif /* TD_SOFTMAX_S16_H */
