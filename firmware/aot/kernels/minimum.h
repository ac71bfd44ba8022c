/* minimum.h - MINIMUM with N-D broadcasting (int8, int16, int32, float32), as TFLite Micro computes it:
 * a plain comparison of the stored values (TFLM does not requantize; the converter gives inputs and output
 * one quantization). */
#ifndef TD_MINIMUM_H
#define TD_MINIMUM_H

#include <stdint.h>

#include "add.h" /* td_bcast6 */

/* out may alias a non-broadcast input. */
void td_minimum_s8(const int8_t *a, const int8_t *b, int8_t *out, const td_bcast6 *bc);
void td_minimum_s16(const int16_t *a, const int16_t *b, int16_t *out, const td_bcast6 *bc);
void td_minimum_i32(const int32_t *a, const int32_t *b, int32_t *out, const td_bcast6 *bc);
void td_minimum_f32(const float *a, const float *b, float *out, const td_bcast6 *bc);

#endif /* TD_MINIMUM_H */
