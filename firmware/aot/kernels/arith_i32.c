/* arith_i32.c - int32 ADD / SUB / MUL kernels; see arith_i32.h.  The arithmetic runs on uint32_t so that an
 * overflow wraps (defined in C) to the bits the host's int32 arithmetic gives. */
#include "arith_i32.h"

#include "td_bcast.h" /* and td_clamp_i32 (td_fixedpoint.h) */

void td_add_i32(const int32_t *a, const int32_t *b, int32_t *out, const td_bcast6 *bc) {
  TD_BCAST6_FOR(int32_t, int32_t, int32_t, a, b, out, bc, *o = (int32_t)((uint32_t)xa + (uint32_t)xb));
}

void td_sub_i32(const int32_t *a, const int32_t *b, int32_t *out, const td_bcast6 *bc, int32_t act_min,
                int32_t act_max) {
  TD_BCAST6_FOR(int32_t, int32_t, int32_t, a, b, out, bc,
                *o = td_clamp_i32((int32_t)((uint32_t)xa - (uint32_t)xb), act_min, act_max));
}

void td_mul_i32(const int32_t *a, const int32_t *b, int32_t *out, const td_bcast6 *bc, int32_t act_min,
                int32_t act_max) {
  TD_BCAST6_FOR(int32_t, int32_t, int32_t, a, b, out, bc,
                *o = td_clamp_i32((int32_t)((uint32_t)xa * (uint32_t)xb), act_min, act_max));
}
