/* reduce_min_max.h - REDUCE_MAX and REDUCE_MIN over any axes (int8 and float32), as TFLite Micro's reference
 * reduces: each output starts at the type's lowest (highest) value and takes the larger (smaller) of itself
 * and each input in input order.  int8 compares stored values (TFLM requires one quantization for input and
 * output). */
#ifndef TD_REDUCE_MIN_MAX_H
#define TD_REDUCE_MIN_MAX_H

#include <stdint.h>

#include "mean.h" /* td_mean_params: the reduction geometry (the quantization fields are unused) */

/* sign: +1 for REDUCE_MAX, -1 for REDUCE_MIN.  out must not overlap in. */
void td_reduce_min_max_s8(const int8_t *in, int8_t *out, const td_mean_params *p, int32_t sign);
void td_reduce_min_max_f32(const float *in, float *out, const td_mean_params *p, int32_t sign);

#endif /* TD_REDUCE_MIN_MAX_H */
