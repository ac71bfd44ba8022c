/* add.h - ADD (int8 and float32) with N-D broadcasting, bit-exact with TFLite Micro's reference kernels. */
#ifndef TD_ADD_H
#define TD_ADD_H

#include <stdint.h>

/* Iteration space of a broadcasting binary op: the output is dense row-major over dims[0..5]; the two
 * inputs are read at element strides sa/sb (0 along a broadcast axis).  The generator merges axes so
 * that the innermost one is as long as possible. */
typedef struct {
  int32_t dims[6];
  int32_t sa[6];
  int32_t sb[6];
} td_bcast6;

/* int8 requantization of TFLM's ADD, as its Prepare computes it: both inputs are shifted left by
 * left_shift (20) and rescaled to twice the larger input scale, summed, then rescaled to the output. */
typedef struct {
  int32_t a_offset, a_multiplier, a_shift; /* offset = -zero_point; shifts <= 0 */
  int32_t b_offset, b_multiplier, b_shift;
  int32_t left_shift;
  int32_t out_multiplier, out_shift, out_offset;
  int32_t act_min, act_max;
} td_add_s8_params;

/* out may alias a (or b) exactly when that input is not broadcast. */
void td_add_s8(const int8_t *a, const int8_t *b, int8_t *out, const td_bcast6 *bc, const td_add_s8_params *p);
void td_add_f32(const float *a, const float *b, float *out, const td_bcast6 *bc, float act_min, float act_max);

#endif /* TD_ADD_H */
