/* conv2d_f32.h - float32 CONV_2D (TFLM reference semantics: same accumulation order, bias after the sum).
 * Build with -ffp-contract=off so the compiler does not fuse multiply-adds (that changes the rounding). */
#ifndef TD_CONV2D_F32_H
#define TD_CONV2D_F32_H

#include <stdint.h>

typedef struct {
  int32_t batches;
  int32_t in_h, in_w, in_c;
  int32_t out_h, out_w, out_c;
  int32_t k_h, k_w;
  int32_t stride_h, stride_w;
  int32_t dil_h, dil_w;
  int32_t pad_h, pad_w;
  float act_min, act_max;
} td_conv2d_f32_params;

void td_conv2d_f32(const td_conv2d_f32_params *p, const float *input, const float *filter, const float *bias,
                   float *output);

#endif /* TD_CONV2D_F32_H */
