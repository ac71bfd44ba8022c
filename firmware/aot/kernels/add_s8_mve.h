/* add_s8_mve.h - int8 ADD over one row for Helium (Cortex-M55), bit-exact with TFLM's reference ADD.
 *
 * td_add_s8_row's arithmetic (add.h) on four int32 lanes: each input + its offset, shifted left by
 * left_shift, rescaled (VQRDMULH: gemmlowp's doubling high multiply, exact for every input) and divided by
 * 2^e rounding half away from zero; the sum rescaled the same way to the output, offset and clamped.  The
 * rounding shift is VRSHL (half up) of h - 1 for negative h where e > 0 -- exact because |h| < 2^30 by range
 * (see add.h; the generator checks the same preconditions, tinydeploy.aot.ops.elementwise.add_row_fast_ok),
 * and e > 0 for the output's shift (tinydeploy.aot.ops.add_mve checks it).
 * a_step, b_step in {0, 1} (a dense operand or a single value); out may alias a dense operand.
 */
#ifndef TD_ADD_S8_MVE_H
#define TD_ADD_S8_MVE_H

#include <stdint.h>

#include "add.h"

void td_add_s8_mve(const int8_t *a, int32_t a_step, const int8_t *b, int32_t b_step, int8_t *out, int32_t n,
                   const td_add_s8_params *p);

#endif /* TD_ADD_S8_MVE_H */
