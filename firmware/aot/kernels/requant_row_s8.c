/* requant_row_s8.c - the block requantization loops (see the header); one function each, so that only the
 * ones a model's layers name are linked. */
#include "requant_row_s8.h"

#include "td_dot_s8.h"

void td_requant_row_s8_exact(const int32_t *acc, int32_t n, const td_requant *rq, int32_t c0, int32_t out_offset,
                             int32_t lo, int32_t hi, int8_t *out) {
  const int32_t *t = rq->table + 2 * c0;
  int32_t i;
  for (i = 0; i < n; ++i, t += 2) out[i] = td_requant_s8(acc[i], t[0], t[1], out_offset, lo, hi);
}

void td_requant_row_s8_fast(const int32_t *acc, int32_t n, const td_requant *rq, int32_t c0, int32_t out_offset,
                            int32_t lo, int32_t hi, int8_t *out) {
  const int32_t *t = rq->table + 3 * c0;
  int32_t i;
  (void)out_offset; /* folded into the table */
  for (i = 0; i < n; ++i, t += 3) out[i] = (int8_t)td_clamp_i32(td_requant_table(acc[i], t), lo, hi);
}

void td_requant_row_s8_fast_full(const int32_t *acc, int32_t n, const td_requant *rq, int32_t c0,
                                 int32_t out_offset, int32_t lo, int32_t hi, int8_t *out) {
  const int32_t *t = rq->table + 3 * c0;
  int32_t i;
  (void)out_offset;
  (void)lo; /* -128 */
  (void)hi; /* 127 */
  for (i = 0; i < n; ++i, t += 3) {
    const int32_t v = td_requant_table(acc[i], t);
#if defined(TD_HAVE_ACLE)
    out[i] = (int8_t)__ssat(v, 8);
#else
    out[i] = (int8_t)td_clamp_i32(v, -128, 127);
#endif
  }
}
