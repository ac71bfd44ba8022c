/* sum.h - SUM over any axes (int8, int16, float32), bit-exact with TFLite Micro's reference kernels. */
#ifndef TD_SUM_H
#define TD_SUM_H

#include <stdint.h>

#include "mean.h" /* td_mean_params; int8 SUM is td_mean_s8 with an unfolded in_scale / out_scale multiplier */

/* TFLM's QuantizedMeanOrSum<int16_t, int32_t> with compute_sum: the int32 sum minus in_zp * count, times
 * in_scale / out_scale (multiplier, shift), plus out_zp, clamped to int16.  acc: out_count int32. */
void td_sum_s16(const int16_t *in, int16_t *out, int32_t *acc, const td_mean_params *p);

/* Float: each output sums its inputs in input order from 0.0f (TFLM's ReduceSum).  out must not overlap in. */
void td_sum_f32(const float *in, float *out, const td_mean_params *p);

#endif /* TD_SUM_H */
