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
#include "requant_row_s8.h"
#include "td_dot_s8.h" /* td_seg2 */

/* bias may be NULL (border pixels); folded_bias is never NULL. */
void td_conv2d_s8_opt(const td_conv2d_s8_params *p, const int8_t *input, const int8_t *filter, const int32_t *bias,
                      const int32_t *folded_bias, const int32_t *mult, const int32_t *shift, int8_t *output);

/* td_conv2d_s8_gemm: int8 CONV_2D as a matrix product with weights packed offline, bit-exact with conv2d_s8.
 *
 * Every output pixel uses folded_bias[oc] = bias[oc] + input_offset * sum(filter[oc]); wherever a window
 * meets the padding the kernel reads the input zero point instead, whose (x + input_offset) is 0 -- exactly
 * the reference's "padding contributes nothing".  Two pixels x two output channels per inner step, against
 * `packed` = the filter rearranged by tinydeploy.aot.ops.conv2d.pack_pairs, its rows padded with zero columns
 * to a multiple of 8 (see td_mm2x2_segs_s8; DSP cores widen the pixel pair to int16 first, on the stack).
 * One driver; the generator picks how a pixel pair's receptive fields are reached (only that one links):
 *   td_conv_fetch_rows (aux NULL): a 1x1 filter, stride 1, no padding: output pixel q reads input row q;
 *   td_conv_fetch_pointwise (aux NULL): a 1x1 filter without padding, each pixel's row read in place;
 *   td_conv_fetch_pieces (aux: k_w * in_c copies of the input zero point; k_h * k_w <= TD_CONV_MAX_PIECES):
 *     the receptive fields read in place piece by piece (any in_c) -- no scratch;
 *   td_conv_fetch_im2col (aux NULL: the kernel's stack; more than TD_CONV_MAX_PIECES taps, or on DSP cores
 *     filter rows of k_w * in_c not a multiple of 4, which the widening would gather byte by byte): two rows of
 *     k_h * k_w * in_c rounded up to a multiple of 4 (the packed filter has zero columns there).
 * A fetch fills seg[] with the pair's pieces (q1 == q0 for a lone last pixel) and returns their number.
 * op->rq: how the layer requantizes (requant_row_s8.h: the fast loops where the generator proved their
 * preconditions for every channel, else the exact one; row NULL where op->pair requantizes in registers).
 */
#define TD_CONV_MAX_PIECES 49
/* The DSP GEMM's int16 copy of a pixel pair's receptive field (and its im2col rows) on the stack: a fixed
 * size, so the firmware's static stack bound holds (a variable-length array made it unbounded); the
 * generator sends wider layers to td_conv2d_s8_opt (conv2d.py: MAX_WIDENED_BYTES). */
#define TD_CONV_MAX_WIDENED_BYTES 4096

typedef int32_t (*td_conv_fetch)(const td_conv2d_s8_params *p, const int8_t *input, int32_t q0, int32_t q1,
                                 int8_t *aux, td_seg2 *seg);
int32_t td_conv_fetch_rows(const td_conv2d_s8_params *p, const int8_t *input, int32_t q0, int32_t q1,
                           int8_t *aux, td_seg2 *seg);
int32_t td_conv_fetch_pointwise(const td_conv2d_s8_params *p, const int8_t *input, int32_t q0, int32_t q1,
                                int8_t *aux, td_seg2 *seg);
int32_t td_conv_fetch_pieces(const td_conv2d_s8_params *p, const int8_t *input, int32_t q0, int32_t q1,
                             int8_t *aux, td_seg2 *seg);
int32_t td_conv_fetch_im2col(const td_conv2d_s8_params *p, const int8_t *input, int32_t q0, int32_t q1,
                             int8_t *aux, td_seg2 *seg);

/* Cores with the DSP extension: every output channel of a pixel pair whose receptive fields were widened to
 * int16 (x16, see conv2d_s8_opt.c), requantized as each channel pair finishes -- in registers with the fast
 * table where the output range is all of int8 (td_conv_pair_fast), else through rq->row
 * (td_conv_pair_rq).  The generator names one per layer, so a firmware links only those it uses. */
typedef struct td_gemm_out td_gemm_out;
typedef void (*td_conv_pair_fn)(const uint32_t *x16, int32_t groups, const int8_t *w, const int32_t *bias,
                                const td_gemm_out *o);
void td_conv_pair_fast(const uint32_t *x16, int32_t groups, const int8_t *w, const int32_t *bias,
                       const td_gemm_out *o);
void td_conv_pair_rq(const uint32_t *x16, int32_t groups, const int8_t *w, const int32_t *bias,
                     const td_gemm_out *o);
/* td_conv_pair_fast for an even number of output channels, in one assembly block on the core: `bias` is the
 * generator's records per channel pair, {b0, b1, b0, b1, m0, e0, k0, m1, e1 | TD_FUSED_LAST on the last pair,
 * k1} (conv2d.py: fused_records); rq unused. */
void td_conv_pair_fused(const uint32_t *x16, int32_t groups, const int8_t *w, const int32_t *bias,
                        const td_gemm_out *o);

/* td_conv2d_s8_params's 19 fields in their order, as int16 (the generator checks they fit): half the
 * flash per layer; the kernel widens them once per call. */
#define TD_CONV2D_S8_FIELDS 19

/* One layer, everything constant in one struct in flash: the call site is a single pointer. */
typedef struct {
  int16_t geom[TD_CONV2D_S8_FIELDS];
  const int8_t *input;
  int8_t *output;
  const int8_t *packed;
  const int32_t *folded_bias;
  td_requant rq;
  td_conv_fetch fetch;
  int8_t *aux;
  td_conv_pair_fn pair; /* DSP cores: td_conv_pair_fused, _fast or _rq; NULL elsewhere */
} td_conv2d_s8_gemm_op;

void td_conv2d_s8_gemm(const td_conv2d_s8_gemm_op *op);

#endif /* TD_CONV2D_S8_OPT_H */
