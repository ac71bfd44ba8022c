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

/* td_conv2d_s8_gemm: int8 CONV_2D as a matrix product with weights packed offline, bit-exact with conv2d_s8.
 *
 * Every output pixel uses folded_bias[oc] = bias[oc] + input_offset * sum(filter[oc]): a window that meets
 * the padding is first copied (im2col) into `scratch` with the padding filled by the input zero point, whose
 * (x + input_offset) is 0 -- exactly the reference's "padding contributes nothing".  1x1 filters without
 * padding read the input in place (scratch may be NULL).  Two pixels x two output channels per inner step,
 * against `packed` = the filter rearranged by tinydeploy.aot.ops.conv2d.pack_pairs (see td_mm2x2_packed_s8).
 * fast_requant: the generator proved td_requant_mul_fast's preconditions for every channel.
 */
/* Bytes of scratch td_conv2d_s8_gemm needs (two im2col rows), 0 for an unpadded 1x1 filter. */
#define TD_CONV2D_S8_GEMM_SCRATCH(k_h, k_w, in_c) (2 * (k_h) * (k_w) * (in_c))

void td_conv2d_s8_gemm(const td_conv2d_s8_params *p, const int8_t *input, const int8_t *packed,
                       const int32_t *folded_bias, const int32_t *mult, const int32_t *shift, int8_t *output,
                       int8_t *scratch, int32_t fast_requant);

#endif /* TD_CONV2D_S8_OPT_H */
