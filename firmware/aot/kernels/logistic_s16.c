/* logistic_s16.c - int16 LOGISTIC; see logistic_s16.h. */
#include "logistic_s16.h"

#define TD_LOGISTIC_S16_FRAC 9 /* fraction bits between two table entries */

void td_logistic_s16(const int16_t *in, int16_t *out, int32_t size, int32_t multiplier, int32_t shift,
                     const uint16_t table[256]) {
  const int32_t round = shift > 0 ? (int32_t)1 << (shift - 1) : 0;
  for (int32_t i = 0; i < size; ++i) {
    const int32_t x = ((int32_t)in[i] * multiplier + round) >> shift; /* |x| < 2^31: multiplier < 2^15 */
    const uint32_t mag = x < 0 ? (uint32_t)(-x) : (uint32_t)x;
    const uint32_t at = mag >> TD_LOGISTIC_S16_FRAC;
    /* sigmoid(|x|) in Q0.16 with 9 more fraction bits */
    uint32_t s;
    if (at >= 255u) {
      s = 0x7FFFu << 10;
    } else {
      const uint32_t lo = table[at], hi = table[at + 1];
      s = (lo << TD_LOGISTIC_S16_FRAC) + (mag & ((1u << TD_LOGISTIC_S16_FRAC) - 1u)) * (hi - lo);
    }
    /* mirror negative inputs (1 - s), round, and drop to Q0.15 */
    s = x >= 0 ? s + (1u << 9) : (1u << 25) - s + (1u << 9) - 1u;
    out[i] = (int16_t)(s >> 10);
  }
}
