/* mul.h - MUL (int8 and float32) with N-D broadcasting, bit-exact with TFLite Micro's reference kernels. */
#ifndef TD_MUL_H
#define TD_MUL_H

#include <stdint.h>

#include "add.h" /* td_bcast6 */

/* out = out_offset + (a + a_offset) * (b + b_offset) * M, M = a_scale * b_scale / out_scale as a Q31
 * multiplier and shift (TFLite QuantizeMultiplier), clamped to [act_min, act_max]. */
typedef struct {
  int32_t a_offset, b_offset;
  int32_t out_multiplier, out_shift, out_offset;
  int32_t act_min, act_max;
} td_mul_s8_params;

/* out may alias a (or b) exactly when that input is not broadcast. */
void td_mul_s8(const int8_t *a, const int8_t *b, int8_t *out, const td_bcast6 *bc, const td_mul_s8_params *p);
/* td_mul_s8 when the generator proved the fast requantization exact (elementwise.mul_fast_ok: a right
 * shift of 1..22): |(a + a_offset) * (b + b_offset)| <= 255 * 255 < 2^30, so td_dot_s8.h's
 * td_requant_mke (one SMMULR on DSP cores) gives TFLM's MultiplyByQuantizedMultiplier exactly, with the
 * output offset folded into its rounding term.  Same broadcasting and aliasing as td_mul_s8. */
void td_mul_s8_fast(const int8_t *a, const int8_t *b, int8_t *out, const td_bcast6 *bc, const td_mul_s8_params *p);
void td_mul_f32(const float *a, const float *b, float *out, const td_bcast6 *bc, float act_min, float act_max);

#endif /* TD_MUL_H */
