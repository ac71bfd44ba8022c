/* arg_min.h - ARG_MIN along one axis (int8 and float32 in, int32 out), as TFLite Micro's ArgMinMax: the first
 * index of the smallest value (a strict `<` keeps the first of equal values). */
#ifndef TD_ARG_MIN_H
#define TD_ARG_MIN_H

#include <stdint.h>

/* in: [outer][axis_len][inner] dense; out: [outer][inner]. */
void td_arg_min_s8(const int8_t *in, int32_t *out, int32_t outer, int32_t axis_len, int32_t inner);
void td_arg_min_f32(const float *in, int32_t *out, int32_t outer, int32_t axis_len, int32_t inner);

#endif /* TD_ARG_MIN_H */
