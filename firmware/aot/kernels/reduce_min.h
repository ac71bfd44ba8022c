/* reduce_min.h - REDUCE_MIN over any axes (int8 and float32), as TFLite Micro's reference reduces: each output starts
 * at the type's highest value and takes `in < cur ? in : cur` over its inputs in input order.  int8
 * compares stored values (TFLM requires one quantization for input and output). */
#ifndef TD_REDUCE_MIN_H
#define TD_REDUCE_MIN_H

#include <stdint.h>

#include "mean.h" /* td_mean_params: the reduction geometry (the quantization fields are unused) */

/* out must not overlap in. */
void td_reduce_min_s8(const int8_t *in, int8_t *out, const td_mean_params *p);
void td_reduce_min_f32(const float *in, float *out, const td_mean_params *p);

#endif /* TD_REDUCE_MIN_H */
