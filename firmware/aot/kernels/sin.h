/* sin.h - SIN: sinf, the C library function TFLM's std::sin(float) calls (float32 only, as TFLM).
 * Bit-exact with TFLite Micro's reference kernel on a host with the same C library; newlib's sinf on a
 * Cortex-M target differs: about 10 % of values by 1 ulp for |x| < 100, tens of ulp near zeros of
 * the result for |x| ~ 1e5 (measured on qemu-m4, see tests/test_aot_ops_misc.py). */
#ifndef TD_SIN_H
#define TD_SIN_H

#include <stdint.h>

/* out may equal in. */
void td_sin_f32(const float *in, float *out, int32_t n);

#endif /* TD_SIN_H */
