/* conv2d_s8_opt.h - optimized int8 CONV_2D, bit-exact with conv2d_s8 (the reference).
 *
 * Output pixels whose receptive field lies wholly inside the input use a bias with the input zero-point
 * term folded in at build time (folded_bias[oc] = bias[oc] + input_offset * sum(filter[oc])), so the inner
 * loop is a plain int8 dot product (SIMD where the core has it, two output channels per input unpack).
 * Pixels touching the padding are computed exactly like the reference (padding contributes nothing).
 */
#ifndef TD_CONV2D_S8_OPT_H
#define TD_CONV2D_S8_OPT_H

#include <stdint.h>

#include "conv2d_s8.h"

/* bias may be NULL (border pixels); folded_bias is never NULL. */
void td_conv2d_s8_opt(const td_conv2d_s8_params *p, const int8_t *input, const int8_t *filter, const int32_t *bias,
                      const int32_t *folded_bias, const int32_t *mult, const int32_t *shift, int8_t *output);

#endif /* TD_CONV2D_S8_OPT_H */
