/* square.h - SQUARE: x * x.
 * Bit-exact with TFLite Micro's reference kernel on a host with the same C library. */
#ifndef TD_SQUARE_H
#define TD_SQUARE_H

#include <stdint.h>

/* out may equal in. */
void td_square_f32(const float *in, float *out, int32_t n);

#endif /* TD_SQUARE_H */
