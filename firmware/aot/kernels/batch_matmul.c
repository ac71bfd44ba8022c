/* batch_matmul.c - reference BATCH_MATMUL kernels; see batch_matmul.h. */
#include "batch_matmul.h"

#include "td_fixedpoint.h"

/* One body per type: ACC_T accumulates TERM(lhs value, rhs value) over k; FINISH stores the sum. */
#define TD_BATCH_MATMUL_LOOP(ACC_T, TERM, FINISH)                                                     \
  int32_t b0, b1, b2, i, j, k;                                                                        \
  for (b0 = 0; b0 < p->batch[0]; ++b0)                                                                \
    for (b1 = 0; b1 < p->batch[1]; ++b1)                                                              \
      for (b2 = 0; b2 < p->batch[2]; ++b2) {                                                          \
        const int32_t lb = b0 * p->lhs_batch[0] + b1 * p->lhs_batch[1] + b2 * p->lhs_batch[2];        \
        const int32_t rb = b0 * p->rhs_batch[0] + b1 * p->rhs_batch[1] + b2 * p->rhs_batch[2];        \
        for (i = 0; i < p->rows; ++i)                                                                 \
          for (j = 0; j < p->cols; ++j) {                                                             \
            const int32_t l0 = lb + i * p->lhs_row, r0 = rb + j * p->rhs_col;                         \
            ACC_T acc = 0;                                                                            \
            for (k = 0; k < p->depth; ++k) acc += TERM(lhs[l0 + k * p->lhs_k], rhs[r0 + k * p->rhs_k]); \
            *out++ = FINISH(acc);                                                                     \
          }                                                                                           \
      }

#define TD_BMM_TERM_F32(a, b) ((a) * (b))
#define TD_BMM_FINISH_F32(acc) (acc)

void td_batch_matmul_f32(const td_batch_matmul_params *p, const float *lhs, const float *rhs, float *out) {
  TD_BATCH_MATMUL_LOOP(float, TD_BMM_TERM_F32, TD_BMM_FINISH_F32)
}

static int32_t td_bmm_finish_s8(const td_batch_matmul_params *p, int32_t acc) {
  acc = td_mul_by_quantized_multiplier(acc, p->mult, p->shift) + p->output_offset;
  return td_clamp_i32(acc, p->act_min, p->act_max);
}

#define TD_BMM_TERM_S8(a, b) (((int32_t)(a) + p->lhs_offset) * ((int32_t)(b) + p->rhs_offset))
#define TD_BMM_FINISH_S8(acc) (int8_t)td_bmm_finish_s8(p, acc)

void td_batch_matmul_s8(const td_batch_matmul_params *p, const int8_t *lhs, const int8_t *rhs, int8_t *out) {
  TD_BATCH_MATMUL_LOOP(int32_t, TD_BMM_TERM_S8, TD_BMM_FINISH_S8)
}

static int32_t td_bmm_finish_s16(const td_batch_matmul_params *p, int64_t acc) {
  return td_clamp_i32(td_mul_by_quantized_multiplier_s64(acc, p->mult, p->shift), p->act_min, p->act_max);
}

#define TD_BMM_TERM_S16(a, b) ((int64_t)(a) * (int64_t)(b))
#define TD_BMM_FINISH_S16(acc) (int16_t)td_bmm_finish_s16(p, acc)

void td_batch_matmul_s16(const td_batch_matmul_params *p, const int16_t *lhs, const int16_t *rhs,
                         int16_t *out) {
  TD_BATCH_MATMUL_LOOP(int64_t, TD_BMM_TERM_S16, TD_BMM_FINISH_S16)
}
