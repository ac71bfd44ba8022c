/* softmax_s16.c - int16 SOFTMAX; see softmax_s16.h. */
#include "softmax_s16.h"

#include "td_fixedpoint.h"

/* TFLM's interpolating int16 table lookup: 512 base values indexed by the top 9 bits, the low 7 bits
 * interpolating to the next entry with rounding. */
static inline int16_t td_lut16_lookup(int16_t value, const int16_t *lut) {
  const uint16_t index = (uint16_t)(256 + (value >> 7));
  const int16_t offset = (int16_t)(value & 0x7f);
  const int16_t base = lut[index];
  const int16_t slope = (int16_t)(lut[index + 1] - lut[index]);
  const int32_t delta = ((int32_t)slope * offset + 64) >> 7;
  return (int16_t)(base + delta);
}

static inline int32_t td_count_leading_zeros_u32(uint32_t x) {
  int32_t n = 0;
  if (x == 0) return 32;
  while (!(x & 0x80000000u)) {
    x <<= 1;
    ++n;
  }
  return n;
}

void td_softmax_s16(const int16_t *in, int16_t *out, int32_t outer, int32_t depth, int32_t input_multiplier,
                    int32_t input_left_shift, const int16_t *exp_lut, const int16_t *recip_lut) {
  for (int32_t i = 0; i < outer; ++i) {
    const int16_t *x = in + i * depth;
    int16_t *y = out + i * depth;
    int16_t max_in_row = INT16_MIN;
    int32_t sum_of_exps = 0;
    for (int32_t c = 0; c < depth; ++c) max_in_row = x[c] > max_in_row ? x[c] : max_in_row;
    /* the exps are kept in the output row (each x[c] is read before y[c] is written) */
    for (int32_t c = 0; c < depth; ++c) {
      const int32_t diff = (int32_t)x[c] - max_in_row;
      const int32_t scaled = td_mul_by_quantized_multiplier(diff, input_multiplier, input_left_shift);
      const int16_t e = td_lut16_lookup((int16_t)td_clamp_i32(scaled + 32767, -32768, 32767), exp_lut);
      y[c] = e;
      sum_of_exps += e;
    }
    {
      const int32_t headroom_plus_one = td_count_leading_zeros_u32((uint32_t)sum_of_exps);
      const int32_t shifted_sum =
          (int32_t)((((int64_t)sum_of_exps << (headroom_plus_one - 1)) + (1 << 13)) >> 14);
      const int32_t centred = shifted_sum - ((1 << 15) + (1 << 16));
      const int16_t recip = td_lut16_lookup((int16_t)td_clamp_i32(centred, -32768, 32767), recip_lut);
      const int32_t right_shift = 31 - headroom_plus_one;
      const int64_t round = (int64_t)1 << (right_shift - 1);
      for (int32_t c = 0; c < depth; ++c) {
        const int32_t r = (int32_t)(((int64_t)y[c] * recip + round) >> right_shift);
        y[c] = (int16_t)td_clamp_i32(r, 0, 32767);
      }
    }
  }
}
