/* exp.h - EXP: expf, the C library function TFLM's std::exp(float) calls.
 * Bit-exact with TFLite Micro's reference kernel on a host with the same C library. */
#ifndef TD_EXP_H
#define TD_EXP_H

#include <stdint.h>

/* out may equal in. */
void td_exp_f32(const float *in, float *out, int32_t n);

#endif /* TD_EXP_H */
