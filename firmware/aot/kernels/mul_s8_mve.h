/* mul_s8_mve.h - int8 MUL over one row for Helium (Cortex-M55), bit-exact with TFLM's reference MUL.
 *
 * out = out_offset + MultiplyByQuantizedMultiplier((a + a_offset) * (b + b_offset), M, shift), clamped, on
 * four int32 lanes: VSHL by the left shift (wrapping, as TFLM's x * (1 << left)), VQRDMULH (gemmlowp's
 * doubling high multiply, exact for every input), then the rounding right shift: VRSHL (half up) of h - 1
 * for negative h when the right shift is positive -- the subtraction saturating, so INT32_MIN (whose
 * quotient is exact) stays put -- which is round half away from zero.
 * a_step, b_step in {0, 1} (a dense operand or a single value); out may alias a dense operand.
 */
#ifndef TD_MUL_S8_MVE_H
#define TD_MUL_S8_MVE_H

#include <stdint.h>

#include "mul.h"

void td_mul_s8_mve(const int8_t *a, int32_t a_step, const int8_t *b, int32_t b_step, int8_t *out, int32_t n,
                   const td_mul_s8_params *p);

#endif /* TD_MUL_S8_MVE_H */
