/* td_bcast.h - the 6-D broadcasting loop the binary element-wise kernels share (SUB, MINIMUM, MAXIMUM,
 * SQUARED_DIFFERENCE, DIV, PRELU, the comparisons, SELECT_V2): td_bcast6 from add.h walks the dense
 * row-major output while the inputs advance at their own strides (0 along a broadcast axis). */
#ifndef TD_BCAST_H
#define TD_BCAST_H

#include <stdint.h>

#include "add.h" /* td_bcast6 */
#include "td_fixedpoint.h"

/* Runs STMT once per output element with `xa` / `xb` the two input values and `o` the output pointer. */
#define TD_BCAST6_FOR(TA, TB, TO, A, B, OUT, BC, STMT)                                                   \
  do {                                                                                                   \
    const int32_t *d_ = (BC)->dims, *sa_ = (BC)->sa, *sb_ = (BC)->sb;                                    \
    TO *o = (OUT);                                                                                       \
    for (int32_t i0 = 0; i0 < d_[0]; ++i0)                                                               \
      for (int32_t i1 = 0; i1 < d_[1]; ++i1)                                                             \
        for (int32_t i2 = 0; i2 < d_[2]; ++i2)                                                           \
          for (int32_t i3 = 0; i3 < d_[3]; ++i3)                                                         \
            for (int32_t i4 = 0; i4 < d_[4]; ++i4) {                                                     \
              const TA *pa_ = (A) + i0 * sa_[0] + i1 * sa_[1] + i2 * sa_[2] + i3 * sa_[3] + i4 * sa_[4]; \
              const TB *pb_ = (B) + i0 * sb_[0] + i1 * sb_[1] + i2 * sb_[2] + i3 * sb_[3] + i4 * sb_[4]; \
              for (int32_t i5 = 0; i5 < d_[5]; ++i5, ++o) {                                              \
                const TA xa = pa_[i5 * sa_[5]];                                                          \
                const TB xb = pb_[i5 * sb_[5]];                                                          \
                STMT;                                                                                    \
              }                                                                                          \
            }                                                                                            \
  } while (0)

TD_INLINE float td_clamp_f32_range(float r, float lo, float hi) {
  r = r < lo ? lo : r;
  return r > hi ? hi : r;
}

#endif /* TD_BCAST_H */
