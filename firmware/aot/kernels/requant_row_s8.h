/* requant_row_s8.h - the block requantization shared by the optimized int8 matrix kernels.
 *
 * The kernels first store a block of accumulators, then requantize it in a separate tight loop that has the
 * registers to itself.  How a layer requantizes is decided at generation time and handed to the kernel as a
 * td_requant in flash, so a firmware links only the loops its layers use:
 *   td_requant_row_s8_exact: the table holds {mult, shift} per channel, TFLM's double rounding (td_requant_s8);
 *   td_requant_row_s8_fast: the generator's proof that td_requant_mul_fast applies, as a table of three
 *     words per channel (tinydeploy.aot.ops.conv2d.fast_requant_table): {mult, e = -shift,
 *     2^(e-1) + out_offset * 2^e}.  Then out = sat(((high + (high < 0 ? -1 : 0) + 2^(e-1) +
 *     out_offset * 2^e) >> e)): adding a multiple of 2^e before the floor shift adds out_offset after it,
 *     and the table is only emitted when no sum can overflow;
 *   td_requant_row_s8_fast_full: the same for the whole int8 output range (no activation, or ReLU with
 *     zero point -128): one saturation instead of a clamp.
 */
#ifndef TD_REQUANT_ROW_S8_H
#define TD_REQUANT_ROW_S8_H

#include <stdint.h>

typedef struct td_requant td_requant;

/* Requantize acc[0..n) of channels c0 .. c0+n-1 into out[0..n). */
typedef void (*td_requant_row_fn)(const int32_t *acc, int32_t n, const td_requant *rq, int32_t c0,
                                  int32_t out_offset, int32_t lo, int32_t hi, int8_t *out);

struct td_requant {
  td_requant_row_fn row;
  const int32_t *table; /* per channel: {mult, shift} (exact) or {mult, e, 2^(e-1) + out_offset * 2^e} (fast) */
};

void td_requant_row_s8_exact(const int32_t *acc, int32_t n, const td_requant *rq, int32_t c0, int32_t out_offset,
                             int32_t lo, int32_t hi, int8_t *out);
void td_requant_row_s8_fast(const int32_t *acc, int32_t n, const td_requant *rq, int32_t c0, int32_t out_offset,
                            int32_t lo, int32_t hi, int8_t *out);
void td_requant_row_s8_fast_full(const int32_t *acc, int32_t n, const td_requant *rq, int32_t c0,
                                 int32_t out_offset, int32_t lo, int32_t hi, int8_t *out);

#endif /* TD_REQUANT_ROW_S8_H */
