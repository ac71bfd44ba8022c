/* abs.h - ABS: |x| (TFLM's std::abs); int16 with TFLM's quantized arithmetic.
 * Bit-exact with TFLite Micro's reference kernel on a host with the same C library. */
#ifndef TD_ABS_H
#define TD_ABS_H

#include <stdint.h>

/* out may equal in. */
void td_abs_f32(const float *in, float *out, int32_t n);

/* int16 (TFLM's AbsEvalQuantized, zero points 0): |x| rescaled by in_scale / out_scale when the scales differ
 * (needs_rescale), clamped to int16.  Unquantized int16 is the plain |x| (needs_rescale 0). */
void td_abs_s16(const int16_t *in, int16_t *out, int32_t n, int32_t needs_rescale, int32_t multiplier,
                int32_t shift);

#endif /* TD_ABS_H */
