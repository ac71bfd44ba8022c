/* conv2d_s8.h - int8 CONV_2D with per-channel requantization, bit-exact with TFLM's reference kernel. */
#ifndef TD_CONV2D_S8_H
#define TD_CONV2D_S8_H

#include <stdint.h>

/* Shapes NHWC; filter [out_c][k_h][k_w][in_c / groups]... groups are not supported: in_c == filter depth. */
typedef struct {
  int32_t batches;
  int32_t in_h, in_w, in_c;
  int32_t out_h, out_w, out_c;
  int32_t k_h, k_w;
  int32_t stride_h, stride_w;
  int32_t dil_h, dil_w;
  int32_t pad_h, pad_w;        /* top/left padding (TFLM's ComputePaddingHeightWidth) */
  int32_t input_offset;        /* -input zero point */
  int32_t output_offset;       /* output zero point */
  int32_t act_min, act_max;    /* fused activation range, in output codes */
} td_conv2d_s8_params;

/* bias may be NULL.  mult/shift: one per output channel (TFLM's QuantizeMultiplier). */
void td_conv2d_s8(const td_conv2d_s8_params *p, const int8_t *input, const int8_t *filter, const int32_t *bias,
                  const int32_t *mult, const int32_t *shift, int8_t *output);

#endif /* TD_CONV2D_S8_H */
