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

#endif /* TD_DEPTHWISE_CONV2D_S8_OPT_H */
