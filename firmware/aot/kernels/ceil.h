/* ceil.h - CEIL: ceilf.
 * Bit-exact with TFLite Micro's reference kernel on a host with the same C library. */
#ifndef TD_CEIL_H
#define TD_CEIL_H

#include <stdint.h>

/* out may equal in. */
void td_ceil_f32(const float *in, float *out, int32_t n);

#endif /* TD_CEIL_H */
