/* depthwise_conv2d_s8_mve.h - int8 DEPTHWISE_CONV_2D (depth multiplier 1) for Helium (Cortex-M55),
 * bit-exact with depthwise_conv2d_s8 (TFLM's reference).
 *
 * Channels across lanes: eight channels per vector (inputs widened to int16 by the load, weights stored as
 * int16), per tap VMULLB + VMULLT (int32 products of the even and the odd channels) and two adds (Helium has
 * no vector-by-vector multiply-accumulate), the requantization on the two int32 halves (td_requant_mve.h).
 * A window wholly inside the input uses folded_bias[c] = bias[c] + input_offset * sum(filter[c]) and raw
 * inputs; a window that meets the padding is clipped to the input and adds input_offset to each input (the
 * reference formula).
 *
 * packed: the filter as int16 [channels / 8 groups][k_h * k_w taps][8], channels zero-padded to a multiple of
 * 8 (tinydeploy.aot.ops.conv_mve.lower_depthwise_mve).
 * rq: per group of eight channels, 40 int32: for the even channels (0, 2, 4, 6), then for the odd ones: folded
 * bias, bias, multiplier, left shift, minus right shift (four each).
 */
#ifndef TD_DEPTHWISE_CONV2D_S8_MVE_H
#define TD_DEPTHWISE_CONV2D_S8_MVE_H

#include <stdint.h>

#include "depthwise_conv2d_s8.h"

#define TD_DEPTHWISE_CONV2D_S8_MVE_FIELDS 20 /* td_depthwise_conv2d_s8_params's fields in order, as int16 */

/* The channel groups [0, groups) of one output pixel from the window's taps [ky0, ky1) x [kx0, kx1) (x: the
 * input at tap (ky0, kx0), channel 0); last_pred: the last group's VPR.P0 (its channels). */
typedef void (*td_depthwise_conv2d_s8_mve_pixel_fn)(const td_depthwise_conv2d_s8_params *p, const int8_t *x,
                                                    const int16_t *packed, const int32_t *rq, int8_t *out,
                                                    int32_t ky0, int32_t ky1, int32_t kx0, int32_t kx1,
                                                    int32_t groups, uint32_t last_pred);

typedef struct {
  int16_t geom[TD_DEPTHWISE_CONV2D_S8_MVE_FIELDS];
  const int8_t *input;
  int8_t *output;
  const int16_t *packed;
  const int32_t *rq;
  const int8_t *zp_row; /* 3x3 filters: the input zero point for every channel (taps in the padding); else NULL */
  /* td_depthwise_conv2d_s8_mve_pixel, or NULL for a 3x3 filter over whole groups of eight channels (whose
   * firmware then links no per-pixel C path) */
  td_depthwise_conv2d_s8_mve_pixel_fn rest;
} td_depthwise_conv2d_s8_mve_op;

void td_depthwise_conv2d_s8_mve(const td_depthwise_conv2d_s8_mve_op *op);
void td_depthwise_conv2d_s8_mve_pixel(const td_depthwise_conv2d_s8_params *p, const int8_t *x, const int16_t *packed,
                                      const int32_t *rq, int8_t *out, int32_t ky0, int32_t ky1, int32_t kx0,
                                      int32_t kx1, int32_t groups, uint32_t last_pred);

#endif /* TD_DEPTHWISE_CONV2D_S8_MVE_H */
