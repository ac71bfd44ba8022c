/* depthwise_conv2d_s8_opt.h - optimized int8 DEPTHWISE_CONV_2D, bit-exact with depthwise_conv2d_s8.
 * Interior pixels use folded_bias[oc] = bias[oc] + input_offset * sum(filter[.., oc]) and no bounds checks;
 * border pixels are computed like the reference. */
#ifndef TD_DEPTHWISE_CONV2D_S8_OPT_H
#define TD_DEPTHWISE_CONV2D_S8_OPT_H

#include <stdint.h>

#include "requant_row_s8.h"

#include "depthwise_conv2d_s8.h"

void td_depthwise_conv2d_s8_opt(const td_depthwise_conv2d_s8_params *p, const int8_t *input, const int8_t *filter,
                                const int32_t *bias, const int32_t *folded_bias, const int32_t *mult,
                                const int32_t *shift, int8_t *output);


/* td_depthwise_conv2d_s8_c4 / _3x3: int8 DEPTHWISE_CONV_2D, depth multiplier 1 and channels a multiple of 4,
 * bit-exact with depthwise_conv2d_s8.
 *
 * Four channels per step with the filter packed offline as [channels / 4][k_h * k_w][4] (one word per tap,
 * read sequentially).  The input offset is added while widening (SXTAB16 on the DSP extension: free), so
 * interior and border pixels share one formula with the plain bias.
 * rq: NULL, or the fast requantization table (see requant_row_s8.h) the generator emits when it proved its
 * preconditions for every channel.
 */
void td_depthwise_conv2d_s8_c4(const td_depthwise_conv2d_s8_params *p, const int8_t *input, const int8_t *packed,
                               const int32_t *bias, const int32_t *mult, const int32_t *shift, int8_t *output,
                               const int32_t *rq);

/* 3x3 filters, any stride/dilation/padding: per output pixel the nine tap addresses are found once, a tap
 * outside the input reading zp_row (in_c copies of the input zero point: its x + input_offset is 0, as
 * padding contributes nothing in the reference); nine unrolled taps per channel group.  bias is never NULL
 * (zeros when the op has none); zp_row is NULL when no window meets the padding; rq: how the layer
 * requantizes (requant_row_s8.h). */
/* td_depthwise_conv2d_s8_params's 20 fields in their order, as int16 (see conv2d_s8_opt.h) */
#define TD_DEPTHWISE_CONV2D_S8_FIELDS 20

typedef struct {
  int16_t geom[TD_DEPTHWISE_CONV2D_S8_FIELDS];
  const int8_t *input;
  int8_t *output;
  const int16_t *packed; /* tinydeploy.aot.ops.depthwise_conv2d.pack_3x3_pairs */
  const int32_t *bias;
  td_requant rq;
  const int8_t *zp_row;
} td_depthwise_conv2d_s8_3x3_op;

void td_depthwise_conv2d_s8_3x3(const td_depthwise_conv2d_s8_3x3_op *op);

#endif /* TD_DEPTHWISE_CONV2D_S8_OPT_H */
