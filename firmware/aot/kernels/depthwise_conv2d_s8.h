/* depthwise_conv2d_s8.h - int8 DEPTHWISE_CONV_2D, per-channel, any depth multiplier and dilation. */
#ifndef TD_DEPTHWISE_CONV2D_S8_H
#define TD_DEPTHWISE_CONV2D_S8_H

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
  int32_t input_offset;
  int32_t output_offset;
  int32_t act_min, act_max;
} td_depthwise_conv2d_s8_params;

void td_depthwise_conv2d_s8(const td_depthwise_conv2d_s8_params *p, const int8_t *input, const int8_t *filter,
                            const int32_t *bias, const int32_t *mult, const int32_t *shift, int8_t *output);

#endif /* TD_DEPTHWISE_CONV2D_S8_H */
