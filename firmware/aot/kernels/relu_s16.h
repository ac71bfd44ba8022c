/* relu_s16.h - int16 RELU and RELU6 (16x8 models), bit-exact with TFLite Micro's reference kernels. */
#ifndef TD_RELU_S16_H
#define TD_RELU_S16_H

#include <stdint.h>

/* TFLM's ReluQuantized<int16_t>: out = clamp(out_zp + (in - in_zp) * M, act_min, act_max), M = in_scale /
 * out_scale as a Q31 multiplier and shift (int8's arithmetic on int16 codes).  out may equal in. */
void td_relu_s16(const int16_t *in, int16_t *out, int32_t n, int32_t in_zp, int32_t out_zp, int32_t multiplier,
                 int32_t shift, int32_t act_min, int32_t act_max);

/* Plain clamp in the input's own quantization (TFLM's Relu6Quantized<int16_t>).  out may equal in. */
void td_clamp_s16(const int16_t *in, int16_t *out, int32_t n, int32_t lo, int32_t hi);

#endif /* TD_RELU_S16_H */
