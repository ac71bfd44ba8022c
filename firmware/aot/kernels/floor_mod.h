/* floor_mod.h - FLOOR_MOD (float32 only, as TFLite Micro): r = fmodf(a, b), then r + b when r is nonzero
 * and its sign differs from b's (TFLite's reference FloorMod); N-D broadcasting.  TFLM does not check for a
 * zero divisor here (fmodf gives NaN), and neither does this kernel. */
#ifndef TD_FLOOR_MOD_H
#define TD_FLOOR_MOD_H

#include <stdint.h>

#include "add.h" /* td_bcast6 */

void td_floor_mod_f32(const float *a, const float *b, float *out, const td_bcast6 *bc);

#endif /* TD_FLOOR_MOD_H */
