/* floor_div.h - FLOOR_DIV (float32 only, as TFLite Micro): floor(a / b) with the quotient taken in double
 * (TFLite's reference FloorDiv divides as double), rounded back to float; N-D broadcasting.  A zero anywhere
 * in the denominator fails the op before any output is written, as TFLM's Eval does. */
#ifndef TD_FLOOR_DIV_H
#define TD_FLOOR_DIV_H

#include <stdint.h>

#include "add.h" /* td_bcast6 */

/* b_size: the denominator's element count.  Returns 0, or 1 (nothing written) on a zero denominator. */
int td_floor_div_f32(const float *a, const float *b, float *out, const td_bcast6 *bc, int32_t b_size);

#endif /* TD_FLOOR_DIV_H */
