/* div.h - DIV (float32) with N-D broadcasting, as TFLite Micro's reference kernel computes it. */
#ifndef TD_DIV_H
#define TD_DIV_H

#include <stdint.h>

#include "add.h" /* td_bcast6 */

/* out = clamp(a / b, act_min, act_max) in float.  out may alias a non-broadcast input. */
void td_div_f32(const float *a, const float *b, float *out, const td_bcast6 *bc, float act_min, float act_max);

#endif /* TD_DIV_H */
