/* rsqrt.h - RSQRT: 1.0f / sqrtf(x), TFLM's float expression.
 * Bit-exact with TFLite Micro's reference kernel on a host with the same C library. */
#ifndef TD_RSQRT_H
#define TD_RSQRT_H

#include <stdint.h>

/* out may equal in. */
void td_rsqrt_f32(const float *in, float *out, int32_t n);

#endif /* TD_RSQRT_H */
