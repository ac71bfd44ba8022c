/* requant_row_s8.c - td_requant_row_s8 (see the header). */
#include "requant_row_s8.h"

#include "td_dot_s8.h"

void td_requant_row_s8(const int32_t *acc, int32_t n, const int32_t *mult, const int32_t *shift, int32_t out_offset,
                       int32_t lo, int32_t hi, int8_t *out, const int32_t *rq) {
  int32_t i;
  if (!rq) {
    for (i = 0; i < n; ++i) out[i] = td_requant_s8(acc[i], mult[i], shift[i], out_offset, lo, hi);
  } else if (lo == -128 && hi == 127) {
    /* the whole int8 range (ReLU with zero point -128, or no activation): one saturation */
    for (i = 0; i < n; ++i, rq += 3) {
      const int32_t high = td_high_mul_fast(acc[i], rq[0]);
      const int32_t v = (high + (high >> 31) + rq[2]) >> rq[1];
#if defined(TD_HAVE_ACLE)
      out[i] = (int8_t)__ssat(v, 8);
#else
      out[i] = (int8_t)td_clamp_i32(v, -128, 127);
#endif
    }
  } else {
    for (i = 0; i < n; ++i, rq += 3) {
      const int32_t high = td_high_mul_fast(acc[i], rq[0]);
      out[i] = (int8_t)td_clamp_i32((high + (high >> 31) + rq[2]) >> rq[1], lo, hi);
    }
  }
}

