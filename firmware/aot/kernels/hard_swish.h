/* hard_swish.h - HARD_SWISH: x * min(6, max(0, x + 3)) / 6 in float, TFLM's expression order; int8 runs a build-time table (td_lut_s8) replaying TFLM's 16-bit fixed point.
 * Bit-exact with TFLite Micro's reference kernel on a host with the same C library. */
#ifndef TD_HARD_SWISH_H
#define TD_HARD_SWISH_H

#include <stdint.h>

/* out may equal in. */
void td_hard_swish_f32(const float *in, float *out, int32_t n);

#endif /* TD_HARD_SWISH_H */
