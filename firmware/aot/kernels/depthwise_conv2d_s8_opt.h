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

/* td_depthwise_conv2d_s8_params's 20 fields in their order, as int16 (see conv2d_s8_opt.h) */
#define TD_DEPTHWISE_CONV2D_S8_FIELDS 20

/* td_depthwise_conv2d_s8_packed: depth multiplier 1, any filter size (up to TD_DWP_MAX_TAPS taps), stride,
 * dilation and padding, any channel count; bit-exact with depthwise_conv2d_s8.
 *
 * The generator (tinydeploy.aot.ops.depthwise_packed) writes one int32 stream per group of four channels
 * (channels padded to a multiple of 4 with zero weights):
 *   4 words   the folded bias bias + input_offset * sum(filter) (times 2 when fused),
 *   per tap pair (2j, 2j+1): 4 words, channel k's {w[2j][k], w[2j+1][k]} as int16 halves (times 2 when fused),
 *   an odd last tap: {w[c0], w[c2]}, {w[c1], w[c3]},
 *   14 words  fused: per channel {mult, 2^(e-1) + out_offset * 2^e, e}, then the bytes lo x4, hi x4;
 *             else per channel {mult, shift, 0}, then two unused words.
 * With the folded bias every tap reads raw input bytes; a tap outside the input reads zp_row (the input zero
 * point: its x * w is what the folding added), so whole and clipped windows run the same code.  On the DSP
 * extension a tap pair is 15 instructions for 8 MACs (14 in the 3x3 loops; PKHBT/PKHTB put the two taps'
 * bytes of channels 0, 1 and of 2, 3 in one word, SXTB16 widens them into a pair per channel, one SMLAD
 * each), and "fused" requantizes the four accumulators in registers: the doubled
 * accumulator makes SMMULR the rounded high half, four channels are clamped at once as bytes (SSUB8 + SEL)
 * and stored as one word.  Channels past the last multiple of 4 run in plain C. */
#define TD_DWP_MAX_TAPS 64

/* The 3x3 entry's loop: `pixels` output pixels, each all its groups of four channels (a 3x3 filter, channels
 * a multiple of 4, the fused requantization), the input window at base + offs[t], the output at out; after a
 * pixel the input moves on by `skip` bytes more than its channels (stride - 1 pixels), the output by its
 * channels.  The stream is the one above with two changes: the last group's e word of channel 3 carries 0x100
 * (the end of a pixel: shifts read only the low byte), and the _full loops' groups have no lo/hi words
 * (12 requantization words: the activation range is all of int8, SSAT alone clamps).  The loops keep raster
 * order (one pixel at a time, a group's output written after its inputs were read; plan/overlap.py). */
typedef void td_dwp_loop9_fn(const int32_t *stream, const intptr_t *offs, uintptr_t base, int8_t *out,
                             int32_t pixels, int32_t skip);
td_dwp_loop9_fn td_dwp_loop9_clamp, td_dwp_loop9_full;
/* the same for act_min >= the output zero point (ReLU, or none with zero point -128): no rounding sign term */
td_dwp_loop9_fn td_dwp_loop9_clamp_relu, td_dwp_loop9_full_relu;

typedef struct {
  int16_t geom[TD_DEPTHWISE_CONV2D_S8_FIELDS];
  const int8_t *input;
  int8_t *output;
  const int32_t *stream;      /* the per-group stream above */
  const int32_t *window;      /* the whole window's tap offsets from its origin, in bytes (k_h * k_w) */
  const int8_t *zp_row;       /* channels rounded up to 4 copies of the input zero point, or NULL */
  int32_t fused;              /* 1: the fused requantization (doubled accumulators); 0: TFLM's exact one */
  td_dwp_loop9_fn *loop9;     /* the 3x3 entry's loop (its stream's layout), NULL for the general entry */
} td_depthwise_conv2d_s8_packed_op;

void td_depthwise_conv2d_s8_packed(const td_depthwise_conv2d_s8_packed_op *op);
/* the same for 3x3 filters, channels a multiple of 4 and fused set, with op->loop9's stream: a row's interior
 * pixels in one call of the loop (border pixels one by one, their outside taps at zp_row) */
void td_depthwise_conv2d_s8_packed_3x3(const td_depthwise_conv2d_s8_packed_op *op);

#endif /* TD_DEPTHWISE_CONV2D_S8_OPT_H */
