/* add.c - ADD kernels; see add.h. */
#include "add.h"

#include "td_fixedpoint.h"

static inline int8_t td_add_one_s8(int32_t x, int32_t y, const td_add_s8_params *p) {
  const int32_t xs = (int32_t)((uint32_t)(x + p->a_offset) << p->left_shift);
  const int32_t ys = (int32_t)((uint32_t)(y + p->b_offset) << p->left_shift);
  const int32_t xr = td_mul_by_quantized_multiplier_smaller_than_one(xs, p->a_multiplier, p->a_shift);
  const int32_t yr = td_mul_by_quantized_multiplier_smaller_than_one(ys, p->b_multiplier, p->b_shift);
  int32_t r = td_mul_by_quantized_multiplier_smaller_than_one(xr + yr, p->out_multiplier, p->out_shift);
  r += p->out_offset;
  return (int8_t)td_clamp_i32(r, p->act_min, p->act_max);
}

void td_add_s8(const int8_t *a, const int8_t *b, int8_t *out, const td_bcast6 *bc, const td_add_s8_params *p) {
  const int32_t *d = bc->dims, *sa = bc->sa, *sb = bc->sb;
  for (int32_t i0 = 0; i0 < d[0]; ++i0)
    for (int32_t i1 = 0; i1 < d[1]; ++i1)
      for (int32_t i2 = 0; i2 < d[2]; ++i2)
        for (int32_t i3 = 0; i3 < d[3]; ++i3)
          for (int32_t i4 = 0; i4 < d[4]; ++i4) {
            const int8_t *pa = a + i0 * sa[0] + i1 * sa[1] + i2 * sa[2] + i3 * sa[3] + i4 * sa[4];
            const int8_t *pb = b + i0 * sb[0] + i1 * sb[1] + i2 * sb[2] + i3 * sb[3] + i4 * sb[4];
            for (int32_t i5 = 0; i5 < d[5]; ++i5) *out++ = td_add_one_s8(pa[i5 * sa[5]], pb[i5 * sb[5]], p);
          }
}

void td_add_f32(const float *a, const float *b, float *out, const td_bcast6 *bc, float act_min, float act_max) {
  const int32_t *d = bc->dims, *sa = bc->sa, *sb = bc->sb;
  for (int32_t i0 = 0; i0 < d[0]; ++i0)
    for (int32_t i1 = 0; i1 < d[1]; ++i1)
      for (int32_t i2 = 0; i2 < d[2]; ++i2)
        for (int32_t i3 = 0; i3 < d[3]; ++i3)
          for (int32_t i4 = 0; i4 < d[4]; ++i4) {
            const float *pa = a + i0 * sa[0] + i1 * sa[1] + i2 * sa[2] + i3 * sa[3] + i4 * sa[4];
            const float *pb = b + i0 * sb[0] + i1 * sb[1] + i2 * sb[2] + i3 * sb[3] + i4 * sb[4];
            for (int32_t i5 = 0; i5 < d[5]; ++i5) {
              float r = pa[i5 * sa[5]] + pb[i5 * sb[5]];
              r = r < act_min ? act_min : r;
              *out++ = r > act_max ? act_max : r;
            }
          }
}
