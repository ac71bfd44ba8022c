/* round.h - ROUND: TFLM's RoundToNearest, half to even (floor, then +1 past the half or at an odd half).
 * Bit-exact with TFLite Micro's reference kernel on a host with the same C library. */
#ifndef TD_ROUND_H
#define TD_ROUND_H

#include <stdint.h>

/* out may equal in. */
void td_round_f32(const float *in, float *out, int32_t n);

#endif /* TD_ROUND_H */
