/* floor.h - FLOOR: floorf.
 * Bit-exact with TFLite Micro's reference kernel on a host with the same C library. */
#ifndef TD_FLOOR_H
#define TD_FLOOR_H

#include <stdint.h>

/* out may equal in. */
void td_floor_f32(const float *in, float *out, int32_t n);

#endif /* TD_FLOOR_H */
