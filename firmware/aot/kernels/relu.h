/* relu.h - RELU / RELU6 / RELU_N1_TO_1 (int8 and float32), bit-exact with TFLite Micro's reference kernels. */
#ifndef TD_RELU_H
#define TD_RELU_H

#include <math.h> /* INFINITY: the upper bound of a float RELU */
#include <stdint.h>

/* TFLM's ReluQuantized: out = clamp(out_zp + (in - in_zp) * M, act_min, act_max), M = in_scale / out_scale
 * as a Q31 multiplier and shift.  out may equal in. */
void td_relu_s8(const int8_t *in, int8_t *out, int32_t n, int32_t in_zp, int32_t out_zp, int32_t multiplier,
                int32_t shift, int32_t act_min, int32_t act_max);

/* Plain clamp in the input's own quantization (TFLM's int8 RELU6 and RELU_N1_TO_1).  out may equal in. */
void td_clamp_s8(const int8_t *in, int8_t *out, int32_t n, int32_t lo, int32_t hi);

/* Any int8 -> int8 function tabulated at build time: out = table[in + 128].  out may equal in.
 * (RELU and LEAKY_RELU on the optimized path: a load instead of 64-bit multiplies.) */
void td_lut_s8(const int8_t *in, int8_t *out, int32_t n, const int8_t table[256]);

/* Float: out = min(max(in, lo), hi).  out may equal in. */
void td_clamp_f32(const float *in, float *out, int32_t n, float lo, float hi);

#endif /* TD_RELU_H */
