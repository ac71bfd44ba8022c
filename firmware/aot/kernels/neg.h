/* neg.h - NEG: -x.
 * Bit-exact with TFLite Micro's reference kernel on a host with the same C library. */
#ifndef TD_NEG_H
#define TD_NEG_H

#include <stdint.h>

/* out may equal in. */
void td_neg_f32(const float *in, float *out, int32_t n);

#endif /* TD_NEG_H */
