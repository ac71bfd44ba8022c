/* transpose_conv.h - TRANSPOSE_CONV (float32, int8 per-channel, int16x8), exact as TFLite Micro's reference
 * kernels.
 *
 * TFLM scatters every input pixel into the output ("for each input, add its influence"); these kernels
 * gather instead: each output element sums, in the same order (input row, input column, input channel
 * ascending), the input pixels whose filter window covers it.  Same terms in the same order, so float
 * results are bit-identical, and no int32/int64 accumulator buffer the size of the output is needed. */
#ifndef TD_TRANSPOSE_CONV_H
#define TD_TRANSPOSE_CONV_H

#include <stdint.h>

/* Shapes NHWC; filter [out_c][k_h][k_w][in_c] (TFLite's OHWI). */
typedef struct {
  int32_t batches;
  int32_t in_h, in_w, in_c;
  int32_t out_h, out_w, out_c;
  int32_t k_h, k_w;
  int32_t stride_h, stride_w;
  int32_t pad_h, pad_w;       /* TFLM's padding, computed with the output size as the "input" */
  int32_t input_offset;       /* integer kernels: -input zero point (0 for int16) */
  int32_t output_offset;      /* integer kernels: output zero point (0 for int16) */
  int32_t act_min, act_max;   /* integer kernels: fused activation range in output codes */
  float f_act_min, f_act_max; /* float kernel: fused activation range */
} td_transpose_conv_params;

/* bias may be NULL.  mult/shift: one per output channel (TFLM's QuantizeMultiplier). */
void td_transpose_conv_f32(const td_transpose_conv_params *p, const float *input, const float *filter,
                           const float *bias, float *output);
void td_transpose_conv_s8(const td_transpose_conv_params *p, const int8_t *input, const int8_t *filter,
                          const int32_t *bias, const int32_t *mult, const int32_t *shift, int8_t *output);
/* int16 activations, int8 filter, int64 bias and accumulator (TFLM's 16x8 kernel). */
void td_transpose_conv_s16(const td_transpose_conv_params *p, const int16_t *input, const int8_t *filter,
                           const int64_t *bias, const int32_t *mult, const int32_t *shift, int16_t *output);

#endif /* TD_TRANSPOSE_CONV_H */
