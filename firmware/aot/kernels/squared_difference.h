/* squared_difference.h - SQUARED_DIFFERENCE (int8, int16, float32) with N-D broadcasting, bit-exact with
 * TFLite Micro's reference kernel. */
#ifndef TD_SQUARED_DIFFERENCE_H
#define TD_SQUARED_DIFFERENCE_H

#include <stdint.h>

#include "add.h" /* td_bcast6 */

/* TFLM's quantized SquaredDifference: inputs offset, shifted left by left_shift (7 for int8, 0 for int16),
 * rescaled to twice the larger input scale (multipliers < 1), their difference squared in int32, then
 * rescaled by (2 max_scale)^2 / (2^(2 left_shift) out_scale) and offset; clamped to the type's range. */
typedef struct {
  int32_t a_offset, a_multiplier, a_shift;
  int32_t b_offset, b_multiplier, b_shift;
  int32_t left_shift;
  int32_t out_multiplier, out_shift, out_offset;
  int32_t act_min, act_max;
} td_squared_difference_params;

/* out may alias a non-broadcast input. */
void td_squared_difference_s8(const int8_t *a, const int8_t *b, int8_t *out, const td_bcast6 *bc,
                              const td_squared_difference_params *p);
void td_squared_difference_s16(const int16_t *a, const int16_t *b, int16_t *out, const td_bcast6 *bc,
                               const td_squared_difference_params *p);
void td_squared_difference_f32(const float *a, const float *b, float *out, const td_bcast6 *bc);

#endif /* TD_SQUARED_DIFFERENCE_H */
