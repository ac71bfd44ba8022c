/* comparisons.h - EQUAL, NOT_EQUAL, LESS, LESS_EQUAL, GREATER, GREATER_EQUAL with N-D broadcasting, bool
 * (uint8_t 0/1) out, as TFLite Micro's comparisons (one file for the family, like TFLM's comparisons.cc).
 *
 * float32 and int32 compare the stored values.  int8 compares both inputs rescaled as TFLM's
 * *WithScaling kernels do: (x - zp) << 8, times the input's own scale as a Q31 multiplier below one. */
#ifndef TD_COMPARISONS_H
#define TD_COMPARISONS_H

#include <stdint.h>

#include "add.h" /* td_bcast6 */

typedef struct {
  int32_t a_offset, a_multiplier, a_shift; /* offset = -zero_point; shift <= 0 */
  int32_t b_offset, b_multiplier, b_shift;
  int32_t left_shift;
} td_compare_s8_params;

void td_equal_s8(const int8_t *a, const int8_t *b, uint8_t *out, const td_bcast6 *bc, const td_compare_s8_params *p);
void td_equal_i32(const int32_t *a, const int32_t *b, uint8_t *out, const td_bcast6 *bc);
void td_equal_f32(const float *a, const float *b, uint8_t *out, const td_bcast6 *bc);
void td_not_equal_s8(const int8_t *a, const int8_t *b, uint8_t *out, const td_bcast6 *bc, const td_compare_s8_params *p);
void td_not_equal_i32(const int32_t *a, const int32_t *b, uint8_t *out, const td_bcast6 *bc);
void td_not_equal_f32(const float *a, const float *b, uint8_t *out, const td_bcast6 *bc);
void td_less_s8(const int8_t *a, const int8_t *b, uint8_t *out, const td_bcast6 *bc, const td_compare_s8_params *p);
void td_less_i32(const int32_t *a, const int32_t *b, uint8_t *out, const td_bcast6 *bc);
void td_less_f32(const float *a, const float *b, uint8_t *out, const td_bcast6 *bc);
void td_less_equal_s8(const int8_t *a, const int8_t *b, uint8_t *out, const td_bcast6 *bc, const td_compare_s8_params *p);
void td_less_equal_i32(const int32_t *a, const int32_t *b, uint8_t *out, const td_bcast6 *bc);
void td_less_equal_f32(const float *a, const float *b, uint8_t *out, const td_bcast6 *bc);
void td_greater_s8(const int8_t *a, const int8_t *b, uint8_t *out, const td_bcast6 *bc, const td_compare_s8_params *p);
void td_greater_i32(const int32_t *a, const int32_t *b, uint8_t *out, const td_bcast6 *bc);
void td_greater_f32(const float *a, const float *b, uint8_t *out, const td_bcast6 *bc);
void td_greater_equal_s8(const int8_t *a, const int8_t *b, uint8_t *out, const td_bcast6 *bc, const td_compare_s8_params *p);
void td_greater_equal_i32(const int32_t *a, const int32_t *b, uint8_t *out, const td_bcast6 *bc);
void td_greater_equal_f32(const float *a, const float *b, uint8_t *out, const td_bcast6 *bc);

#endif /* TD_COMPARISONS_H */
