/* mul_s16.h - int16 MUL with N-D broadcasting, bit-exact with TFLite Micro's reference kernel: the int8
 * arithmetic (td_mul_s8_params, mul.h) on int16 codes -- the product of the offset inputs rescaled by
 * a_scale * b_scale / out_scale, offset and clamped. */
#ifndef TD_MUL_S16_H
#define TD_MUL_S16_H

#include <stdint.h>

#include "mul.h" /* td_bcast6, td_mul_s8_params */

/* out may alias a (or b) exactly when that input is not broadcast. */
void td_mul_s16(const int16_t *a, const int16_t *b, int16_t *out, const td_bcast6 *bc, const td_mul_s8_params *p);

#endif /* TD_MUL_S16_H */
