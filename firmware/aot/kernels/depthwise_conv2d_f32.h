/* depthwise_conv2d_f32.h - float32 DEPTHWISE_CONV_2D (TFLM reference semantics).  Build with -ffp-contract=off. */
#ifndef TD_DEPTHWISE_CONV2D_F32_H
#define TD_DEPTHWISE_CONV2D_F32_H

#include <stdint.h>

typedef struct {
  int32_t batches;
  int32_t in_h, in_w, in_c;
  int32_t out_h, out_w, out_c;
  int32_t depth_multiplier;
  int32_t k_h, k_w;
  int32_t stride_h, stride_w;
  int32_t dil_h, dil_w;
  int32_t pad_h, pad_w;
  float act_min, act_max;
} td_depthwise_conv2d_f32_params;

void td_depthwise_conv2d_f32(const td_depthwise_conv2d_f32_params *p, const float *input, const float *filter,
                             const float *bias, float *output);

#endif /* TD_DEPTHWISE_CONV2D_F32_H */
