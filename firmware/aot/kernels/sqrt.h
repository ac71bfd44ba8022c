/* sqrt.h - SQRT: sqrtf (IEEE correctly rounded, as TFLM's std::sqrt).
 * Bit-exact with TFLite Micro's reference kernel on a host with the same C library. */
#ifndef TD_SQRT_H
#define TD_SQRT_H

#include <stdint.h>

/* out may equal in. */
void td_sqrt_f32(const float *in, float *out, int32_t n);

#endif /* TD_SQRT_H */
