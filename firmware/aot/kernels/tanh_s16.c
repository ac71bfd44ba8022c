/* tanh_s16.c - int16 TANH; see tanh_s16.h. */
#include "tanh_s16.h"

#define TD_TANH_S16_FRAC 8 /* fraction bits between two table entries: sigmoid is read at 2x */

void td_tanh_s16(const int16_t *in, int16_t *out, int32_t size, int32_t multiplier, int32_t shift,
                 const uint16_t table[256]) {
  const int32_t round = shift > 0 ? (int32_t)1 << (shift - 1) : 0;
  for (int32_t i = 0; i < size; ++i) {
    const int32_t x = ((int32_t)in[i] * multiplier + round) >> shift;
    const uint32_t mag = x < 0 ? (uint32_t)(-x) : (uint32_t)x;
    const uint32_t at = mag >> TD_TANH_S16_FRAC;
    /* sigmoid(2|x|) in Q0.16 with 8 more fraction bits */
    int32_t s;
    if (at >= 255u) {
      s = 0xFFFF << 8;
    } else {
      const uint32_t lo = table[at], hi = table[at + 1];
      s = (int32_t)((lo << TD_TANH_S16_FRAC) + (mag & 0xFFu) * (hi - lo));
    }
    /* 2s - 1 is s - 1/2 at the output's doubled scale; sign, rounding, then Q0.15 */
    s = x >= 0 ? s - (1 << 23) + (1 << 7) : -s + (1 << 23) + (1 << 7) - 1;
    out[i] = (int16_t)(s >> 8);
  }
}
