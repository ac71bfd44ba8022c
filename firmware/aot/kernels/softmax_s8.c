/* softmax_s8.c - int8 SOFTMAX as TFLite Micro's reference kernel computes it.
 *
 * Per row: exp((x - max) * beta * scale) in gemmlowp fixed point (differences in Q5.26, exp results in
 * Q0.31, their sum accumulated in Q12.19), one reciprocal of the sum, then each exp times the reciprocal,
 * rounded down to the output width.  Every rounding step matches TFLM's, so the outputs are bit-identical.
 */
#include "softmax_s8.h"

#include "td_fixedpoint.h"
#include "td_gemmlowp.h"

enum { kScaledDiffIntegerBits = 5, kAccumulationIntegerBits = 12 };

typedef struct {
  int32_t beta_multiplier;
  int32_t beta_left_shift;
  int32_t diff_min;
} softmax_params;

/* What a row needs for its second pass: its max and the reciprocal of its sum of exps. */
typedef struct {
  int32_t max;
  int32_t reciprocal; /* Q0.31, normalised: the true reciprocal is this / 2^num_bits_over_unit */
  int num_bits_over_unit;
} row_scale;

/* exp of one input difference (<= 0, >= diff_min), in Q0.31.  Called from both passes: kept out of line so
 * the ~0.5 KB fixed-point exp is in flash once. */
static __attribute__((noinline)) int32_t exp_of_diff(int32_t diff, const softmax_params *p) {
  const int32_t scaled = td_mul_by_quantized_multiplier_greater_than_one(diff, p->beta_multiplier, p->beta_left_shift);
  return td_fp_exp_on_negative_values(scaled, kScaledDiffIntegerBits);
}

static row_scale scale_of_row(const int8_t *row, int32_t depth, const softmax_params *p) {
  row_scale s;
  s.max = -128;
  for (int32_t c = 0; c < depth; ++c) s.max = td_max_i32(s.max, row[c]);
  int32_t sum_of_exps = 0; /* Q12.19 */
  for (int32_t c = 0; c < depth; ++c) {
    const int32_t diff = (int32_t)row[c] - s.max;
    if (diff >= p->diff_min) {
      sum_of_exps = td_fp_add(sum_of_exps, td_fp_rescale(exp_of_diff(diff, p), 0, kAccumulationIntegerBits));
    }
  }
  s.reciprocal = td_fp_reciprocal(sum_of_exps, kAccumulationIntegerBits, &s.num_bits_over_unit);
  return s;
}

/* The output code of one element for an output type of out_bits bits (zero point at its minimum). */
static inline int32_t output_code(int8_t x, const row_scale *s, const softmax_params *p, int out_bits,
                                  int32_t qmin, int32_t qmax) {
  const int32_t diff = (int32_t)x - s->max;
  if (diff < p->diff_min) return qmin;
  const int32_t prob = td_fp_mul(s->reciprocal, exp_of_diff(diff, p));
  const int32_t unsaturated = td_rounding_divide_by_pot(prob, s->num_bits_over_unit + 31 - out_bits);
  return td_clamp_i32(unsaturated + qmin, qmin, qmax);
}

void td_softmax_s8(const int8_t *in, int8_t *out, int32_t outer, int32_t depth,
                   int32_t beta_multiplier, int32_t beta_left_shift, int32_t diff_min) {
  const softmax_params p = {beta_multiplier, beta_left_shift, diff_min};
  for (int32_t i = 0; i < outer; ++i) {
    const int8_t *row_in = in + i * depth;
    int8_t *row_out = out + i * depth;
    const row_scale s = scale_of_row(row_in, depth, &p);
    /* reads element c before writing it: safe in place */
    for (int32_t c = 0; c < depth; ++c) row_out[c] = (int8_t)output_code(row_in[c], &s, &p, 8, -128, 127);
  }
}

void td_softmax_s8_s16(const int8_t *in, int16_t *out, int32_t outer, int32_t depth,
                       int32_t beta_multiplier, int32_t beta_left_shift, int32_t diff_min) {
  const softmax_params p = {beta_multiplier, beta_left_shift, diff_min};
  for (int32_t i = 0; i < outer; ++i) {
    const int8_t *row_in = in + i * depth;
    int16_t *row_out = out + i * depth;
    const row_scale s = scale_of_row(row_in, depth, &p);
    for (int32_t c = 0; c < depth; ++c) row_out[c] = (int16_t)output_code(row_in[c], &s, &p, 16, -32768, 32767);
  }
}
