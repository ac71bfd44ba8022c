/* broadcast_args.c - BROADCAST_ARGS kernels; see broadcast_args.h. */
#include "broadcast_args.h"

#define TD_BROADCAST_ARGS_BODY                                   \
  for (int32_t i = 0; i < n; ++i) { /* i counts from the end */  \
    const int32_t da = i < na ? (int32_t)a[na - 1 - i] : 1;      \
    const int32_t db = i < nb ? (int32_t)b[nb - 1 - i] : 1;      \
    if (da != 1 && db != 1 && da != db) return 1;                \
    out[n - 1 - i] = da == 1 ? db : da;                          \
  }                                                              \
  return 0

int td_broadcast_args_i32(const int32_t *a, int32_t na, const int32_t *b, int32_t nb, int32_t *out, int32_t n) {
  TD_BROADCAST_ARGS_BODY;
}

int td_broadcast_args_i64(const int64_t *a, int32_t na, const int64_t *b, int32_t nb, int64_t *out, int32_t n) {
  TD_BROADCAST_ARGS_BODY;
}
