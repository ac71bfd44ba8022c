/* requant_row_s8.h - the block requantization shared by the optimized int8 matrix kernels (one copy in
 * the firmware, not one per kernel file). */
#ifndef TD_REQUANT_ROW_S8_H
#define TD_REQUANT_ROW_S8_H

#include <stdint.h>

/* Requantize n accumulators (channel i: mult[i], shift[i]) into out, in a separate tight loop: the kernels
 * first store a block of accumulators, so this loop has the registers to itself.
 * rq: NULL, or the generator's proof that td_requant_mul_fast applies, as a table of three words per channel
 * (tinydeploy.aot.ops.conv2d.fast_requant_table): {mult, e = -shift, 2^(e-1) + out_offset * 2^e}.  Then
 * out = sat(((high + (high < 0 ? -1 : 0) + 2^(e-1) + out_offset * 2^e) >> e)): adding a multiple of 2^e
 * before the floor shift adds out_offset after it, and the table is only emitted when no sum can overflow. */
void td_requant_row_s8(const int32_t *acc, int32_t n, const int32_t *mult, const int32_t *shift, int32_t out_offset,
                       int32_t lo, int32_t hi, int8_t *out, const int32_t *rq);

#endif /* TD_REQUANT_ROW_S8_H */
