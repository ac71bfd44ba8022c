/* fully_connected_s8_opt.h - optimized int8 FULLY_CONNECTED (symmetric weights), bit-exact with the reference.
 * folded_bias[oc] = bias[oc] + input_offset * sum(filter[oc]) at build time; the inner loop is a plain int8
 * dot product.  The generator keeps the reference kernel for layers too small to pay for this code.
 *
 * td_fully_connected_s8_packed4 (cores without Helium): `packed` is the filter packed offline in groups of
 * four units (tinydeploy.aot.ops.conv2d.pack_rows(rows, 4), a partial last group padded with zero rows,
 * folded_bias padded with zeros likewise): four units per input pass.  rq: NULL, or td_requant_row_s8_fast's
 * fast requantization table, one entry per unit (per-channel weights) or a single one (per-tensor), emitted
 * when the generator proved its preconditions (for td_fully_connected_s8_packed4_fast: whole groups of four
 * entries, the last one padded, a per-tensor entry repeated four times).
 * td_fully_connected_s8_opt (Helium builds): the plain [out_c][depth] layout, two units per input unpack. */
#ifndef TD_FULLY_CONNECTED_S8_OPT_H
#define TD_FULLY_CONNECTED_S8_OPT_H

#include <stdint.h>

#include "fully_connected_s8.h"

void td_fully_connected_s8_packed4(const td_fully_connected_s8_params *p, const int8_t *input, const int8_t *packed,
                                   const int32_t *folded_bias, const int32_t *mult, const int32_t *shift,
                                   int8_t *output, const int32_t *rq);
/* td_fully_connected_s8_packed4 with depth % 8 == 0 and rq given (the generator checks both). */
void td_fully_connected_s8_packed4_fast(const td_fully_connected_s8_params *p, const int8_t *input,
                                        const int8_t *packed, const int32_t *folded_bias, int8_t *output,
                                        const int32_t *rq);
void td_fully_connected_s8_opt(const td_fully_connected_s8_params *p, const int8_t *input, const int8_t *filter,
                               const int32_t *folded_bias, const int32_t *mult, const int32_t *shift,
                               int8_t *output);

#endif /* TD_FULLY_CONNECTED_S8_OPT_H */
