/* conv2d_s16.h - 16x8 CONV_2D (int16 activations, int8 per-channel filter), bit-exact with TFLM's reference. */
#ifndef TD_CONV2D_S16_H
#define TD_CONV2D_S16_H

#include <stdint.h>

/* Shapes NHWC; filter [out_c][k_h][k_w][in_c].  Zero points are 0 (TFLM requires it for int16). */
typedef struct {
  int32_t batches;
  int32_t in_h, in_w, in_c;
  int32_t out_h, out_w, out_c;
  int32_t k_h, k_w;
  int32_t stride_h, stride_w;
  int32_t dil_h, dil_w;
  int32_t pad_h, pad_w;
  int32_t act_min, act_max;
  int32_t bias_kind; /* TD_ACC32_NO_BIAS ... TD_ACC64_BIAS64 (td_requant_s16.h) */
} td_conv2d_s16_params;

void td_conv2d_s16(const td_conv2d_s16_params *p, const int16_t *input, const int8_t *filter, const void *bias,
                   const int32_t *mult, const int32_t *shift, int16_t *output);

#endif /* TD_CONV2D_S16_H */
