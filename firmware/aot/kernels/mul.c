/* mul.c - MUL kernels; see mul.h. */
#include "mul.h"

#include "td_dot_s8.h"
#include "td_fixedpoint.h"

/* Both int8 kernels' broadcast walk; `fast` is a literal at each call, so each gets its own inner loop:
 * TFLM's MultiplyByQuantizedMultiplier, or td_requant_mke (see td_mul_s8_fast in mul.h). */
TD_INLINE void td_mul_s8_walk(const int8_t *a, const int8_t *b, int8_t *out, const td_bcast6 *bc,
                              const td_mul_s8_params *p, int fast) {
  const int32_t *d = bc->dims, *sa = bc->sa, *sb = bc->sb;
  const int32_t a_offset = p->a_offset, b_offset = p->b_offset, mult = p->out_multiplier, shift = p->out_shift;
  const int32_t e = fast ? -shift : 0, k = fast ? (1 << (e - 1)) + p->out_offset * (1 << e) : 0;
  const int32_t lo = p->act_min, hi = p->act_max, step_a = sa[5], step_b = sb[5], n = d[5];
  for (int32_t i0 = 0; i0 < d[0]; ++i0)
    for (int32_t i1 = 0; i1 < d[1]; ++i1)
      for (int32_t i2 = 0; i2 < d[2]; ++i2)
        for (int32_t i3 = 0; i3 < d[3]; ++i3)
          for (int32_t i4 = 0; i4 < d[4]; ++i4) {
            const int8_t *pa = a + i0 * sa[0] + i1 * sa[1] + i2 * sa[2] + i3 * sa[3] + i4 * sa[4];
            const int8_t *pb = b + i0 * sb[0] + i1 * sb[1] + i2 * sb[2] + i3 * sb[3] + i4 * sb[4];
            for (int32_t i5 = 0; i5 < n; ++i5, pa += step_a, pb += step_b) {
              const int32_t prod = (*pa + a_offset) * (*pb + b_offset);
              const int32_t v = fast ? td_requant_mke(prod, mult, e, k)
                                     : td_mul_by_quantized_multiplier(prod, mult, shift) + p->out_offset;
              *out++ = (int8_t)td_clamp_i32(v, lo, hi);
            }
          }
}

void td_mul_s8(const int8_t *a, const int8_t *b, int8_t *out, const td_bcast6 *bc, const td_mul_s8_params *p) {
  td_mul_s8_walk(a, b, out, bc, p, 0);
}

void td_mul_s8_fast(const int8_t *a, const int8_t *b, int8_t *out, const td_bcast6 *bc, const td_mul_s8_params *p) {
  td_mul_s8_walk(a, b, out, bc, p, 1);
}

void td_mul_f32(const float *a, const float *b, float *out, const td_bcast6 *bc, float act_min, float act_max) {
  const int32_t *d = bc->dims, *sa = bc->sa, *sb = bc->sb;
  for (int32_t i0 = 0; i0 < d[0]; ++i0)
    for (int32_t i1 = 0; i1 < d[1]; ++i1)
      for (int32_t i2 = 0; i2 < d[2]; ++i2)
        for (int32_t i3 = 0; i3 < d[3]; ++i3)
          for (int32_t i4 = 0; i4 < d[4]; ++i4) {
            const float *pa = a + i0 * sa[0] + i1 * sa[1] + i2 * sa[2] + i3 * sa[3] + i4 * sa[4];
            const float *pb = b + i0 * sb[0] + i1 * sb[1] + i2 * sb[2] + i3 * sb[3] + i4 * sb[4];
            for (int32_t i5 = 0; i5 < d[5]; ++i5) {
              float r = pa[i5 * sa[5]] * pb[i5 * sb[5]];
              r = r < act_min ? act_min : r;
              *out++ = r > act_max ? act_max : r;
            }
          }
}
