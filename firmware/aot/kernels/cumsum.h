/* cumsum.h - CUMSUM (float32 and int8) along one axis, exclusive and/or reverse, exact as TFLite Micro's
 * reference kernels. */
#ifndef TD_CUMSUM_H
#define TD_CUMSUM_H

#include <stdint.h>

/* The tensor viewed as [outer][depth][inner], summed along depth (from its end when reverse); exclusive
 * writes the sum before adding the element. */
typedef struct {
  int32_t outer, depth, inner;
  int32_t exclusive, reverse;
} td_cumsum_geom;

/* int8: TFLM's arithmetic.  Each element (code - input zero point) is shifted left 20 bits and halved by the
 * input multiplier; the running sum starts at the same scaling of -(input zero point) (TFLM's start value,
 * not 0) and is requantized by the output multiplier.  Sums wrap like TFLM's int32 on the host. */
typedef struct {
  int32_t input_zp, output_zp;
  int32_t input_mult, input_shift;   /* shift <= 0 */
  int32_t output_mult, output_shift; /* shift <= 0 */
} td_cumsum_s8_params;

void td_cumsum_f32(const float *in, float *out, const td_cumsum_geom *g);
void td_cumsum_s8(const int8_t *in, int8_t *out, const td_cumsum_geom *g, const td_cumsum_s8_params *p);

#endif /* TD_CUMSUM_H */
