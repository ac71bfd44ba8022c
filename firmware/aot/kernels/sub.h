/* sub.h - SUB (int8, int16 and float32) with N-D broadcasting, bit-exact with TFLite Micro's reference kernels. */
#ifndef TD_SUB_H
#define TD_SUB_H

#include <stdint.h>

#include "add.h" /* td_bcast6, td_add_s8_params */

/* TFLM's quantized SUB: ADD's arithmetic (both inputs shifted left by left_shift, 20 for int8 and 15 for
 * int16, and rescaled to twice the larger input scale) with the rescaled inputs subtracted, then rescaled
 * to the output and clamped to the fused activation.  The parameters are ADD's (td_add_s8_params). */
void td_sub_s8(const int8_t *a, const int8_t *b, int8_t *out, const td_bcast6 *bc, const td_add_s8_params *p);
void td_sub_s16(const int16_t *a, const int16_t *b, int16_t *out, const td_bcast6 *bc, const td_add_s8_params *p);
void td_sub_f32(const float *a, const float *b, float *out, const td_bcast6 *bc, float act_min, float act_max);

#endif /* TD_SUB_H */
