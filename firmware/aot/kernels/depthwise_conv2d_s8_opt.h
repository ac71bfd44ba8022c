/* depthwise_conv2d_s8_opt.h - optimized int8 DEPTHWISE_CONV_2D, bit-exact with depthwise_conv2d_s8.
 * Interior pixels use folded_bias[oc] = bias[oc] + input_offset * sum(filter[.., oc]) and no bounds checks;
 * border pixels are computed like the reference. */
#ifndef TD_DEPTHWISE_CONV2D_S8_OPT_H
#define TD_DEPTHWISE_CONV2D_S8_OPT_H

#include <stdint.h>

#include "depthwise_conv2d_s8.h"

void td_depthwise_conv2d_s8_opt(const td_depthwise_conv2d_s8_params *p, const int8_t *input, const int8_t *filter,
                                const int32_t *bias, const int32_t *folded_bias, const int32_t *mult,
                                const int32_t *shift, int8_t *output);


/* td_depthwise_conv2d_s8_c4: int8 DEPTHWISE_CONV_2D, depth multiplier 1 and channels a multiple of 4,
 * bit-exact with depthwise_conv2d_s8.
 *
 * Four channels per step with the filter packed offline as [channels / 4][k_h * k_w][4] (one word per tap,
 * read sequentially).  The input offset is added while widening (SXTAB16 on the DSP extension: free), so
 * interior and border pixels share one formula with the plain bias; a whole 3x3 window is unrolled.
 * fast_requant: the generator proved td_requant_mul_fast's preconditions for every channel.
 */
void td_depthwise_conv2d_s8_c4(const td_depthwise_conv2d_s8_params *p, const int8_t *input, const int8_t *packed,
                               const int32_t *bias, const int32_t *mult, const int32_t *shift, int8_t *output,
                               int32_t fast_requant);

#endif /* TD_DEPTHWISE_CONV2D_S8_OPT_H */
