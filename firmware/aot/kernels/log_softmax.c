/* log_softmax.c - LOG_SOFTMAX kernels; see log_softmax.h. */
#include "log_softmax.h"

#include <float.h>
#include <math.h>

#include "td_gemmlowp.h"

void td_log_softmax_f32(const float *in, float *out, int32_t outer, int32_t depth) {
  for (int32_t o = 0; o < outer; ++o, in += depth, out += depth) {
    float max = -FLT_MAX;
    for (int32_t c = 0; c < depth; ++c) max = max < in[c] ? in[c] : max;
    float sum = 0.0f;
    for (int32_t c = 0; c < depth; ++c) sum += expf(in[c] - max);
    const float log_sum = logf(sum);
    for (int32_t c = 0; c < depth; ++c) out[c] = in[c] - max - log_sum;
  }
}

/* Integer bits of the fixed-point values, as TFLM's kernel fixes them. */
enum { TD_LS_INPUT_BITS = 5, TD_LS_ACCUM_BITS = 12, TD_LS_OUTPUT_BITS = 4, TD_LS_LOG_ACCUM_BITS = 6 };

TD_INLINE int32_t td_sat_add(int32_t a, int32_t b) {
  const int64_t s = (int64_t)a + b;
  return s > INT32_MAX ? INT32_MAX : (s < INT32_MIN ? INT32_MIN : (int32_t)s);
}

TD_INLINE int32_t td_sat_sub(int32_t a, int32_t b) {
  const int64_t s = (int64_t)a - b;
  return s > INT32_MAX ? INT32_MAX : (s < INT32_MIN ? INT32_MIN : (int32_t)s);
}

/* log(x) for x >= 1, x in Q12.19, result in Q5.26: gemmlowp-style log_x_for_x_greater_than_or_equal_to_1
 * (a rational approximation around sqrt(sqrt(1/2)) after normalising by a power of two, two candidate
 * normalisations of which the tighter is kept). */
static int32_t td_log_q12_to_q5(int32_t z_a) {
  const int32_t log_2 = 1488522236, sqrt_sqrt_half = 1805811301, sqrt_half = 1518500250;
  const int32_t alpha_n = 117049297, alpha_d = 127690142, alpha_i = 1057819769, alpha_f = 638450708;
  const int accum = TD_LS_LOG_ACCUM_BITS;
  const int32_t shifted_quarter = td_fp_rescale(536870912 /* 1/4 in Q0.31 */, 0, accum);

  const int z_a_headroom_plus_1 = __builtin_clz((uint32_t)z_a);
  const int32_t r_a_tmp = td_fp_mul_by_pot(z_a, z_a_headroom_plus_1 - 1);
  const int32_t r_a = td_fp_mul_by_pot(td_fp_mul(r_a_tmp, sqrt_half), 1);
  const int32_t z_a_pow_2_adj =
      td_sat_add(td_fp_mul_by_pot(TD_LS_ACCUM_BITS - z_a_headroom_plus_1, 31 - accum), shifted_quarter);

  const int32_t z_b = td_fp_mul(z_a, sqrt_half);
  const int z_b_headroom = __builtin_clz((uint32_t)z_b) - 1;
  const int32_t r_b = td_fp_mul_by_pot(z_a, z_b_headroom);
  const int32_t z_b_pow_2_adj =
      td_sat_sub(td_fp_mul_by_pot(TD_LS_ACCUM_BITS - z_b_headroom, 31 - accum), shifted_quarter);

  const int32_t r = td_min_i32(r_a, r_b);
  const int32_t z_pow_2_adj = td_max_i32(z_a_pow_2_adj, z_b_pow_2_adj);

  const int32_t p = td_fp_rounding_half_sum(r, sqrt_sqrt_half);
  int32_t q = td_fp_sub(r, sqrt_sqrt_half);
  q = td_fp_add(q, q);
  const int32_t common_sq = td_fp_mul(q, q);
  const int32_t num = td_fp_add(td_fp_mul(q, r), td_fp_mul(td_fp_mul(q, common_sq), alpha_n));
  const int32_t denom_minus_one =
      td_fp_add(td_fp_mul(p, td_fp_add(td_fp_add(alpha_i, q), td_fp_mul(alpha_d, common_sq))),
                td_fp_mul(alpha_f, q));
  const int32_t recip_denom = td_fp_one_over_one_plus_x_for_x_in_0_1(denom_minus_one);
  const int32_t num_scaled = td_fp_rescale(num, 0, accum);
  const int32_t sum = td_fp_add(td_fp_mul(z_pow_2_adj, log_2), td_fp_mul(num_scaled, recip_denom));
  return td_fp_rescale(sum, accum, TD_LS_INPUT_BITS);
}

void td_log_softmax_s8(const int8_t *in, int8_t *out, int32_t outer, int32_t depth, int32_t input_multiplier,
                       int32_t input_left_shift, int32_t reverse_multiplier, int32_t reverse_shift,
                       int32_t diff_min) {
  for (int32_t o = 0; o < outer; ++o, in += depth, out += depth) {
    int32_t max = INT8_MIN;
    for (int32_t c = 0; c < depth; ++c) max = in[c] > max ? in[c] : max;

    int32_t sum_q12 = 0; /* cannot overflow: depth < 2^12 terms below 1.0 each (TFLM's own bound) */
    for (int32_t c = 0; c < depth; ++c) {
      const int32_t diff = in[c] - max;
      if (diff >= diff_min) {
        const int32_t diff_q5 = td_mul_by_quantized_multiplier(diff, input_multiplier, input_left_shift);
        const int32_t e = td_fp_exp_on_negative_values(diff_q5, TD_LS_INPUT_BITS);
        sum_q12 = td_fp_add(sum_q12, td_fp_rescale(e, 0, TD_LS_ACCUM_BITS));
      }
    }
    const int32_t log_sum_q5 = td_log_q12_to_q5(sum_q12);
    const int32_t shifted_log_sum = td_fp_add(log_sum_q5, INT32_MIN);
    const int32_t adjusted_diff_min =
        td_max_i32(diff_min - 1, td_mul_by_quantized_multiplier(shifted_log_sum, reverse_multiplier, reverse_shift));

    for (int32_t c = 0; c < depth; ++c) {
      const int32_t diff = in[c] - max;
      if (diff > adjusted_diff_min) {
        const int32_t diff_q5 = td_mul_by_quantized_multiplier(diff, input_multiplier, input_left_shift);
        const int32_t r = td_rounding_divide_by_pot(td_fp_sub(diff_q5, log_sum_q5),
                                                    31 - TD_LS_INPUT_BITS - TD_LS_OUTPUT_BITS) + 127;
        out[c] = (int8_t)td_clamp_i32(r, -128, 127);
      } else {
        out[c] = -128;
      }
    }
  }
}
