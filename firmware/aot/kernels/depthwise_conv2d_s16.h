/* depthwise_conv2d_s16.h - 16x8 DEPTHWISE_CONV_2D (int16 activations, int8 per-channel filter, int64 bias),
 * any depth multiplier and dilation, bit-exact with TFLM's reference kernel. */
#ifndef TD_DEPTHWISE_CONV2D_S16_H
#define TD_DEPTHWISE_CONV2D_S16_H

#include <stdint.h>

/* Filter [1][k_h][k_w][out_c], out_c = in_c * depth_multiplier; output channel = ic * depth_multiplier + m. */
typedef struct {
  int32_t batches;
  int32_t in_h, in_w, in_c;
  int32_t out_h, out_w, out_c;
  int32_t depth_multiplier;
  int32_t k_h, k_w;
  int32_t stride_h, stride_w;
  int32_t dil_h, dil_w;
  int32_t pad_h, pad_w;
  int32_t act_min, act_max;
  int32_t bias_kind; /* td_requant_s16.h */
} td_depthwise_conv2d_s16_params;

void td_depthwise_conv2d_s16(const td_depthwise_conv2d_s16_params *p, const int16_t *input, const int8_t *filter,
                             const void *bias, const int32_t *mult, const int32_t *shift, int16_t *output);

#endif /* TD_DEPTHWISE_CONV2D_S16_H */
