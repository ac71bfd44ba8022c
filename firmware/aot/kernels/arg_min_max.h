/* arg_min_max.h - ARG_MAX and ARG_MIN along one axis (int8 and float32 in, int32 out), as TFLite Micro's
 * ArgMinMax: the first index of the largest (smallest) value; a strict comparison keeps the first of equal
 * values. */
#ifndef TD_ARG_MIN_MAX_H
#define TD_ARG_MIN_MAX_H

#include <stdint.h>

/* in: [outer][axis_len][inner] dense; out: [outer][inner].  sign: +1 for ARG_MAX, -1 for ARG_MIN (the values
 * are compared as sign * value, exact for int8 widened to int32 and for float negation). */
void td_arg_min_max_s8(const int8_t *in, int32_t *out, int32_t outer, int32_t axis_len, int32_t inner, int32_t sign);
void td_arg_min_max_f32(const float *in, int32_t *out, int32_t outer, int32_t axis_len, int32_t inner, int32_t sign);

#endif /* TD_ARG_MIN_MAX_H */
