/* elu.h - ELU: x < 0 ? expm1f(x) : x (TFLM's float reference); int8 runs a build-time table (td_lut_s8).
 * Bit-exact with TFLite Micro's reference kernel on a host with the same C library. */
#ifndef TD_ELU_H
#define TD_ELU_H

#include <stdint.h>

/* out may equal in. */
void td_elu_f32(const float *in, float *out, int32_t n);

#endif /* TD_ELU_H */
