/* conv2d_s8_mve.h - int8 CONV_2D for Helium (Cortex-M55), bit-exact with conv2d_s8 (TFLM's reference).
 *
 * A matrix product of receptive fields by filter rows: two output pixels x four output channels per pass,
 * 16 int8 lanes per VMLADAVA (one instruction per 16 multiply-accumulates), the requantization of the four
 * channels on four int32 lanes (td_requant_mve.h).  Every pixel uses folded_bias[oc] = bias[oc] +
 * input_offset * sum(filter[oc]) and raw inputs; taps outside the input read the input zero point, whose
 * (x + input_offset) is 0, exactly the reference's "padding contributes nothing".
 *
 * packed: the filter as [out_c / 4 groups][chunks of 16 columns][4 rows][16], rows zero-padded to a multiple
 * of 16 columns and out_c to a multiple of 4 (tinydeploy.aot.ops.conv_mve.pack_rows16x4).
 * rq: per group of four channels, 16 int32: folded bias, multiplier, left shift, minus right shift.
 * The descriptor names how a receptive field is reached: td_conv2d_s8_mve_row reads it in place where it is
 * one input row (a 1x1 filter without padding, FULLY_CONNECTED; scratch NULL), td_conv2d_s8_mve_im2col copies
 * it into `scratch` (two rows of k_h * k_w * in_c bytes rounded up to 16) -- so a firmware without im2col
 * layers links no copying code.  td_conv2d_s8_mve_stack is the same with those two rows in its own frame
 * (op->scratch unused): for layers whose two rows fit TD_CONV2D_S8_MVE_STACK_ROWS bytes and whose arena
 * scratch would raise the arena's peak.
 */
#ifndef TD_CONV2D_S8_MVE_H
#define TD_CONV2D_S8_MVE_H

#include <stdint.h>

#include "conv2d_s8.h"

#define TD_CONV2D_S8_MVE_FIELDS 19 /* td_conv2d_s8_params's fields in order, as int16 */

/* the receptive field of output pixel q (batch-major) as k_h * k_w * in_c contiguous bytes */
typedef const int8_t *(*td_conv2d_s8_mve_field_fn)(const td_conv2d_s8_params *p, const int8_t *input, int32_t q,
                                                   int8_t *scratch);

typedef struct {
  int16_t geom[TD_CONV2D_S8_MVE_FIELDS];
  const int8_t *input;
  int8_t *output;
  const int8_t *packed;
  const int32_t *rq;
  int8_t *scratch;                 /* td_conv2d_s8_mve_row: NULL */
  td_conv2d_s8_mve_field_fn field; /* td_conv2d_s8_mve_row or td_conv2d_s8_mve_im2col */
} td_conv2d_s8_mve_op;

/* the stack entry's two im2col rows, 2 * 144 bytes: a 3x3 filter over 16 channels (conv_mve.py: STACK_ROWS) */
#define TD_CONV2D_S8_MVE_STACK_ROWS 288

void td_conv2d_s8_mve(const td_conv2d_s8_mve_op *op);
void td_conv2d_s8_mve_stack(const td_conv2d_s8_mve_op *op);
const int8_t *td_conv2d_s8_mve_row(const td_conv2d_s8_params *p, const int8_t *input, int32_t q, int8_t *scratch);
const int8_t *td_conv2d_s8_mve_im2col(const td_conv2d_s8_params *p, const int8_t *input, int32_t q,
                                      int8_t *scratch);

/* FULLY_CONNECTED on the same matrix product: `rows` input rows of `depth` bytes read in place, `units`
 * outputs each; packed and rq as above (the input offset is in the folded biases).  A firmware without
 * convolutions links this short driver instead of td_conv2d_s8_mve's. */
typedef struct {
  int16_t rows, depth, units, output_offset, act_min, act_max;
  const int8_t *input;
  int8_t *output;
  const int8_t *packed;
  const int32_t *rq;
} td_fully_connected_s8_mve_op;

void td_fully_connected_s8_mve(const td_fully_connected_s8_mve_op *op);
/* ... with one requantization for every unit: rq = the multiplier, the left shift and minus the right shift,
 * four copies each, then the folded biases, four per group (48 bytes + 4 a unit instead of 16 a unit). */
void td_fully_connected_s8_mve_pt(const td_fully_connected_s8_mve_op *op);

#endif /* TD_CONV2D_S8_MVE_H */
