/* batch_matmul.h - BATCH_MATMUL (float32, int8, int16), exact as TFLite Micro's reference kernel.
 * out[b][i][j] = sum over k (ascending) of lhs[b][i][k] * rhs[b][k][j].  The generator folds adj_x / adj_y
 * and batch broadcasting into element strides (a broadcast batch dimension has stride 0), so no operand is
 * transposed or copied at run time. */
#ifndef TD_BATCH_MATMUL_H
#define TD_BATCH_MATMUL_H

#include <stdint.h>

typedef struct {
  int32_t batch[3];                         /* output batch dims (TFLM extends every operand to rank 5) */
  int32_t lhs_batch[3], rhs_batch[3];       /* element strides per batch dim, 0 where broadcast */
  int32_t rows, depth, cols;                /* A x K times K x C */
  int32_t lhs_row, lhs_k, rhs_k, rhs_col;   /* element strides inside one matrix (adj folded in) */
  int32_t lhs_offset, rhs_offset;           /* integer kernels: -zero points */
  int32_t output_offset, mult, shift;       /* integer kernels: output zero point, TFLM's requantization */
  int32_t act_min, act_max;                 /* integer kernels: the output type's range */
} td_batch_matmul_params;

void td_batch_matmul_f32(const td_batch_matmul_params *p, const float *lhs, const float *rhs, float *out);
void td_batch_matmul_s8(const td_batch_matmul_params *p, const int8_t *lhs, const int8_t *rhs, int8_t *out);
void td_batch_matmul_s16(const td_batch_matmul_params *p, const int16_t *lhs, const int16_t *rhs,
                         int16_t *out);

#endif /* TD_BATCH_MATMUL_H */
