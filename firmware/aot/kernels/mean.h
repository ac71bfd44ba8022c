/* mean.h - MEAN over any axes (int8 and float32), bit-exact with TFLite Micro's reference kernels.
 * (int16 MEAN is sum.h's td_sum_s16 with the 1 / count folded into the multiplier.) */
#ifndef TD_MEAN_H
#define TD_MEAN_H

#include <stdint.h>

/* The dense row-major input over dims[0..5] accumulates into output element sum(i_k * out_strides[k])
 * (out_strides 0 along reduced axes).  TFLM's QuantizedMeanOrSum: the int32 sum of each output, minus
 * in_zp * count, times the multiplier/shift that fold in_scale / out_scale and 1 / count, plus out_zp. */
typedef struct {
  int32_t dims[6];
  int32_t out_strides[6];
  int32_t out_count;   /* number of outputs */
  int32_t count;       /* inputs reduced into each output */
  int32_t in_zp, out_zp;
  int32_t multiplier, shift;
} td_mean_params;

/* acc: scratch of out_count int32.  Out must not overlap in. */
void td_mean_s8(const int8_t *in, int8_t *out, int32_t *acc, const td_mean_params *p);

/* Float: sum in input order, then divided by count.  acc: scratch of out_count floats (may be out). */
void td_mean_f32(const float *in, float *out, float *acc, const td_mean_params *p);

#endif /* TD_MEAN_H */
