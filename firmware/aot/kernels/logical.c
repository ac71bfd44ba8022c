/* logical.c - LOGICAL_AND / LOGICAL_OR / LOGICAL_NOT kernels; see logical.h. */
#include "logical.h"

#include "td_bcast.h"

void td_logical_and_b(const uint8_t *a, const uint8_t *b, uint8_t *out, const td_bcast6 *bc) {
  TD_BCAST6_FOR(uint8_t, uint8_t, uint8_t, a, b, out, bc, *o = (uint8_t)(xa && xb));
}

void td_logical_or_b(const uint8_t *a, const uint8_t *b, uint8_t *out, const td_bcast6 *bc) {
  TD_BCAST6_FOR(uint8_t, uint8_t, uint8_t, a, b, out, bc, *o = (uint8_t)(xa || xb));
}

void td_logical_not_b(const uint8_t *in, uint8_t *out, int32_t n) {
  for (int32_t i = 0; i < n; ++i) out[i] = (uint8_t)!in[i];
}
