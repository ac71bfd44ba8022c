/* cumsum.c - cumulative sums; see cumsum.h. */
#include "cumsum.h"

#include "td_fixedpoint.h"

#define TD_CUMSUM_LEFT_SHIFT 20 /* TFLM's kCumSumIntegerShift */

/* Index of the k-th element of an (outer, inner) line, walking backwards when reverse. */
static int32_t td_cumsum_at(const td_cumsum_geom *g, int32_t o, int32_t i, int32_t k) {
  const int32_t d = g->reverse ? g->depth - 1 - k : k;
  return (o * g->depth + d) * g->inner + i;
}

void td_cumsum_f32(const float *in, float *out, const td_cumsum_geom *g) {
  for (int32_t o = 0; o < g->outer; ++o)
    for (int32_t i = 0; i < g->inner; ++i) {
      float acc = 0.0f;
      for (int32_t k = 0; k < g->depth; ++k) {
        const int32_t at = td_cumsum_at(g, o, i, k);
        if (g->exclusive) {
          out[at] = acc;
          acc += in[at];
        } else {
          acc += in[at];
          out[at] = acc;
        }
      }
    }
}

static int32_t td_cumsum_scale_in(int32_t y, const td_cumsum_s8_params *p) {
  return td_mul_by_quantized_multiplier_smaller_than_one((int32_t)((uint32_t)y << TD_CUMSUM_LEFT_SHIFT),
                                                         p->input_mult, p->input_shift);
}

void td_cumsum_s8(const int8_t *in, int8_t *out, const td_cumsum_geom *g, const td_cumsum_s8_params *p) {
  const uint32_t start = (uint32_t)td_cumsum_scale_in(-p->input_zp, p);
  for (int32_t o = 0; o < g->outer; ++o)
    for (int32_t i = 0; i < g->inner; ++i) {
      uint32_t acc = start;
      for (int32_t k = 0; k < g->depth; ++k) {
        const int32_t at = td_cumsum_at(g, o, i, k);
        const uint32_t scaled = (uint32_t)td_cumsum_scale_in(in[at] - p->input_zp, p);
        uint32_t sum;
        if (g->exclusive) {
          sum = acc;
          acc += scaled;
        } else {
          acc += scaled;
          sum = acc;
        }
        const int32_t v = td_mul_by_quantized_multiplier_smaller_than_one((int32_t)sum, p->output_mult,
                                                                          p->output_shift) + p->output_zp;
        out[at] = (int8_t)td_clamp_i32(v, INT8_MIN, INT8_MAX);
      }
    }
}
