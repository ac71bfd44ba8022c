/* add_s16.h - int16 ADD with N-D broadcasting, bit-exact with TFLite Micro's reference kernel.
 *
 * TFLM's int16 ADD takes the general path (not the power-of-two-scale one): ADD's int8 arithmetic with a
 * left shift of 15 -- both inputs (plus their offsets) shifted left, rescaled to twice the larger input
 * scale, summed, rescaled to the output, offset and clamped.  Parameters: td_add_s8_params (add.h). */
#ifndef TD_ADD_S16_H
#define TD_ADD_S16_H

#include <stdint.h>

#include "add.h" /* td_bcast6, td_add_s8_params */

/* out may alias a (or b) exactly when that input is not broadcast. */
void td_add_s16(const int16_t *a, const int16_t *b, int16_t *out, const td_bcast6 *bc, const td_add_s8_params *p);

#endif /* TD_ADD_S16_H */
