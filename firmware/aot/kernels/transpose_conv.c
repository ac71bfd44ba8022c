/* transpose_conv.c - reference TRANSPOSE_CONV kernels; see transpose_conv.h. */
#include "transpose_conv.h"

#include "td_fixedpoint.h"

/* The input indices i (ascending, inside [0, in_size)) whose window covers output index o: o = i * stride -
 * pad + f with 0 <= f < k.  [*lo, *hi) may be empty. */
static void td_tc_covering(int32_t o, int32_t pad, int32_t k, int32_t stride, int32_t in_size, int32_t *lo,
                           int32_t *hi) {
  const int32_t first = o + pad - (k - 1); /* smallest i * stride */
  const int32_t last = o + pad;            /* largest i * stride, >= 0 */
  *lo = first <= 0 ? 0 : (first + stride - 1) / stride;
  *hi = td_min_i32(last / stride + 1, in_size);
}

static float td_tc_clamp_f32(float x, float lo, float hi) {
  const float a = x < lo ? lo : x; /* std::max(x, lo) */
  return hi < a ? hi : a;          /* std::min(a, hi) */
}

/* One body per type: ACC accumulates TERM(input value, filter value) over the covering input pixels, in
 * TFLM's order; FINISH turns the sum (and bias) into the stored output value. */
#define TD_TRANSPOSE_CONV_LOOP(ACC_T, TERM, FINISH)                                                          \
  int32_t b, oy, ox, oc, iy, ix, ic, y_lo, y_hi, x_lo, x_hi;                                                 \
  for (b = 0; b < p->batches; ++b) {                                                                         \
    const int32_t in_b = b * p->in_h * p->in_w * p->in_c;                                                    \
    for (oy = 0; oy < p->out_h; ++oy) {                                                                      \
      td_tc_covering(oy, p->pad_h, p->k_h, p->stride_h, p->in_h, &y_lo, &y_hi);                              \
      for (ox = 0; ox < p->out_w; ++ox) {                                                                    \
        td_tc_covering(ox, p->pad_w, p->k_w, p->stride_w, p->in_w, &x_lo, &x_hi);                            \
        for (oc = 0; oc < p->out_c; ++oc) {                                                                  \
          ACC_T acc = 0;                                                                                     \
          for (iy = y_lo; iy < y_hi; ++iy) {                                                                 \
            const int32_t fy = oy + p->pad_h - iy * p->stride_h;                                             \
            for (ix = x_lo; ix < x_hi; ++ix) {                                                               \
              const int32_t fx = ox + p->pad_w - ix * p->stride_w;                                           \
              const int32_t in_px = in_b + (iy * p->in_w + ix) * p->in_c;                                    \
              const int32_t f_px = ((oc * p->k_h + fy) * p->k_w + fx) * p->in_c;                             \
              for (ic = 0; ic < p->in_c; ++ic) acc += TERM(input[in_px + ic], filter[f_px + ic]);            \
            }                                                                                                \
          }                                                                                                  \
          *output++ = FINISH(acc);                                                                           \
        }                                                                                                    \
      }                                                                                                      \
    }                                                                                                        \
  }

#define TD_TC_TERM_F32(x, w) ((x) * (w))
#define TD_TC_FINISH_F32(acc) td_tc_clamp_f32((acc) + (bias ? bias[oc] : 0.0f), p->f_act_min, p->f_act_max)

void td_transpose_conv_f32(const td_transpose_conv_params *p, const float *input, const float *filter,
                           const float *bias, float *output) {
  TD_TRANSPOSE_CONV_LOOP(float, TD_TC_TERM_F32, TD_TC_FINISH_F32)
}

static int8_t td_tc_finish_s8(const td_transpose_conv_params *p, int32_t acc, int32_t mult, int32_t shift) {
  acc = td_mul_by_quantized_multiplier(acc, mult, shift) + p->output_offset;
  return (int8_t)td_clamp_i32(acc, p->act_min, p->act_max);
}

#define TD_TC_TERM_S8(x, w) (((int32_t)(x) + p->input_offset) * (int32_t)(w))
#define TD_TC_FINISH_S8(acc) td_tc_finish_s8(p, (acc) + (bias ? bias[oc] : 0), mult[oc], shift[oc])

void td_transpose_conv_s8(const td_transpose_conv_params *p, const int8_t *input, const int8_t *filter,
                          const int32_t *bias, const int32_t *mult, const int32_t *shift, int8_t *output) {
  TD_TRANSPOSE_CONV_LOOP(int32_t, TD_TC_TERM_S8, TD_TC_FINISH_S8)
}

static int16_t td_tc_finish_s16(const td_transpose_conv_params *p, int64_t acc, int32_t mult, int32_t shift) {
  return (int16_t)td_clamp_i32(td_mul_by_quantized_multiplier_s64(acc, mult, shift), p->act_min, p->act_max);
}

#define TD_TC_TERM_S16(x, w) ((int64_t)(x) * (int64_t)(w))
#define TD_TC_FINISH_S16(acc) td_tc_finish_s16(p, (acc) + (bias ? bias[oc] : 0), mult[oc], shift[oc])

void td_transpose_conv_s16(const td_transpose_conv_params *p, const int16_t *input, const int8_t *filter,
                           const int64_t *bias, const int32_t *mult, const int32_t *shift, int16_t *output) {
  TD_TRANSPOSE_CONV_LOOP(int64_t, TD_TC_TERM_S16, TD_TC_FINISH_S16)
}
