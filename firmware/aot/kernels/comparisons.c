/* comparisons.c - comparison kernels; see comparisons.h. */
#include "comparisons.h"

#include "td_bcast.h"
#include "td_fixedpoint.h"

static inline int32_t td_compare_scale(int32_t x, int32_t offset, int32_t multiplier, int32_t shift, int32_t ls) {
  const int32_t shifted = (int32_t)((uint32_t)(x + offset) << ls);
  return td_mul_by_quantized_multiplier_smaller_than_one(shifted, multiplier, shift);
}

void td_equal_s8(const int8_t *a, const int8_t *b, uint8_t *out, const td_bcast6 *bc, const td_compare_s8_params *p) {
  TD_BCAST6_FOR(int8_t, int8_t, uint8_t, a, b, out, bc,
                *o = (uint8_t)(td_compare_scale(xa, p->a_offset, p->a_multiplier, p->a_shift, p->left_shift) ==
                               td_compare_scale(xb, p->b_offset, p->b_multiplier, p->b_shift, p->left_shift)));
}

void td_equal_i32(const int32_t *a, const int32_t *b, uint8_t *out, const td_bcast6 *bc) {
  TD_BCAST6_FOR(int32_t, int32_t, uint8_t, a, b, out, bc, *o = (uint8_t)(xa == xb));
}

void td_equal_f32(const float *a, const float *b, uint8_t *out, const td_bcast6 *bc) {
  TD_BCAST6_FOR(float, float, uint8_t, a, b, out, bc, *o = (uint8_t)(xa == xb));
}

void td_not_equal_s8(const int8_t *a, const int8_t *b, uint8_t *out, const td_bcast6 *bc, const td_compare_s8_params *p) {
  TD_BCAST6_FOR(int8_t, int8_t, uint8_t, a, b, out, bc,
                *o = (uint8_t)(td_compare_scale(xa, p->a_offset, p->a_multiplier, p->a_shift, p->left_shift) !=
                               td_compare_scale(xb, p->b_offset, p->b_multiplier, p->b_shift, p->left_shift)));
}

void td_not_equal_i32(const int32_t *a, const int32_t *b, uint8_t *out, const td_bcast6 *bc) {
  TD_BCAST6_FOR(int32_t, int32_t, uint8_t, a, b, out, bc, *o = (uint8_t)(xa != xb));
}

void td_not_equal_f32(const float *a, const float *b, uint8_t *out, const td_bcast6 *bc) {
  TD_BCAST6_FOR(float, float, uint8_t, a, b, out, bc, *o = (uint8_t)(xa != xb));
}

void td_less_s8(const int8_t *a, const int8_t *b, uint8_t *out, const td_bcast6 *bc, const td_compare_s8_params *p) {
  TD_BCAST6_FOR(int8_t, int8_t, uint8_t, a, b, out, bc,
                *o = (uint8_t)(td_compare_scale(xa, p->a_offset, p->a_multiplier, p->a_shift, p->left_shift) <
                               td_compare_scale(xb, p->b_offset, p->b_multiplier, p->b_shift, p->left_shift)));
}

void td_less_i32(const int32_t *a, const int32_t *b, uint8_t *out, const td_bcast6 *bc) {
  TD_BCAST6_FOR(int32_t, int32_t, uint8_t, a, b, out, bc, *o = (uint8_t)(xa < xb));
}

void td_less_f32(const float *a, const float *b, uint8_t *out, const td_bcast6 *bc) {
  TD_BCAST6_FOR(float, float, uint8_t, a, b, out, bc, *o = (uint8_t)(xa < xb));
}

void td_less_equal_s8(const int8_t *a, const int8_t *b, uint8_t *out, const td_bcast6 *bc, const td_compare_s8_params *p) {
  TD_BCAST6_FOR(int8_t, int8_t, uint8_t, a, b, out, bc,
                *o = (uint8_t)(td_compare_scale(xa, p->a_offset, p->a_multiplier, p->a_shift, p->left_shift) <=
                               td_compare_scale(xb, p->b_offset, p->b_multiplier, p->b_shift, p->left_shift)));
}

void td_less_equal_i32(const int32_t *a, const int32_t *b, uint8_t *out, const td_bcast6 *bc) {
  TD_BCAST6_FOR(int32_t, int32_t, uint8_t, a, b, out, bc, *o = (uint8_t)(xa <= xb));
}

void td_less_equal_f32(const float *a, const float *b, uint8_t *out, const td_bcast6 *bc) {
  TD_BCAST6_FOR(float, float, uint8_t, a, b, out, bc, *o = (uint8_t)(xa <= xb));
}

void td_greater_s8(const int8_t *a, const int8_t *b, uint8_t *out, const td_bcast6 *bc, const td_compare_s8_params *p) {
  TD_BCAST6_FOR(int8_t, int8_t, uint8_t, a, b, out, bc,
                *o = (uint8_t)(td_compare_scale(xa, p->a_offset, p->a_multiplier, p->a_shift, p->left_shift) >
                               td_compare_scale(xb, p->b_offset, p->b_multiplier, p->b_shift, p->left_shift)));
}

void td_greater_i32(const int32_t *a, const int32_t *b, uint8_t *out, const td_bcast6 *bc) {
  TD_BCAST6_FOR(int32_t, int32_t, uint8_t, a, b, out, bc, *o = (uint8_t)(xa > xb));
}

void td_greater_f32(const float *a, const float *b, uint8_t *out, const td_bcast6 *bc) {
  TD_BCAST6_FOR(float, float, uint8_t, a, b, out, bc, *o = (uint8_t)(xa > xb));
}

void td_greater_equal_s8(const int8_t *a, const int8_t *b, uint8_t *out, const td_bcast6 *bc, const td_compare_s8_params *p) {
  TD_BCAST6_FOR(int8_t, int8_t, uint8_t, a, b, out, bc,
                *o = (uint8_t)(td_compare_scale(xa, p->a_offset, p->a_multiplier, p->a_shift, p->left_shift) >=
                               td_compare_scale(xb, p->b_offset, p->b_multiplier, p->b_shift, p->left_shift)));
}

void td_greater_equal_i32(const int32_t *a, const int32_t *b, uint8_t *out, const td_bcast6 *bc) {
  TD_BCAST6_FOR(int32_t, int32_t, uint8_t, a, b, out, bc, *o = (uint8_t)(xa >= xb));
}

void td_greater_equal_f32(const float *a, const float *b, uint8_t *out, const td_bcast6 *bc) {
  TD_BCAST6_FOR(float, float, uint8_t, a, b, out, bc, *o = (uint8_t)(xa >= xb));
}
