/* leaky_relu.h - LEAKY_RELU (int8 and float32), bit-exact with TFLite Micro's reference kernels. */
#ifndef TD_LEAKY_RELU_H
#define TD_LEAKY_RELU_H

#include <stdint.h>

/* TFLM's QuantizeLeakyRelu: d = in - in_zp; out = clamp(out_zp + d * (d >= 0 ? M_identity : M_alpha)) with
 * M_identity = in_scale / out_scale and M_alpha = in_scale * alpha / out_scale (Q31 multiplier + shift).
 * A negative alpha is applied as -(d * |M_alpha|): that is how TFLM's results round at exact ties
 * (measured against its interpreter), which a negative Q31 multiplier would not reproduce. */
typedef struct {
  int32_t in_zp, out_zp;
  int32_t identity_multiplier, identity_shift;
  int32_t alpha_multiplier, alpha_shift; /* of |M_alpha| */
  int32_t alpha_negative;                /* 1 when alpha < 0 */
} td_leaky_relu_s8_params;

/* out may equal in. */
void td_leaky_relu_s8(const int8_t *in, int8_t *out, int32_t n, const td_leaky_relu_s8_params *p);
void td_leaky_relu_f32(const float *in, float *out, int32_t n, float alpha);

#endif /* TD_LEAKY_RELU_H */
