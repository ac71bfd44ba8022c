/* log.h - LOG: logf, the C library function TFLM's std::log(float) calls.
 * Bit-exact with TFLite Micro's reference kernel on a host with the same C library. */
#ifndef TD_LOG_H
#define TD_LOG_H

#include <stdint.h>

/* out may equal in. */
void td_log_f32(const float *in, float *out, int32_t n);

#endif /* TD_LOG_H */
