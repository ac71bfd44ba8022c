/* tanh_s8.c - int8 TANH as TFLite Micro's reference kernel computes it: output scale 1/128, zero point 0,
 * tanh evaluated by gemmlowp's fixed-point tanh on a Q4.27 input. */
#include "tanh_s8.h"

#include "td_fixedpoint.h"
#include "td_gemmlowp.h"

enum { kInputIntegerBits = 4, kOutputFractionBits = 7 };

void td_tanh_s8(const int8_t *in, int8_t *out, int32_t size, int32_t input_zero_point,
                int32_t range_radius, int32_t multiplier, int32_t left_shift) {
  for (int32_t i = 0; i < size; ++i) {
    const int32_t x = (int32_t)in[i] - input_zero_point;
    int32_t q;
    if (x <= -range_radius) {
      q = -128;
    } else if (x >= range_radius) {
      q = 127;
    } else {
      const int32_t x_q4 = td_mul_by_quantized_multiplier(x, multiplier, left_shift);
      const int32_t y_q0 = td_fp_tanh(x_q4, kInputIntegerBits);
      q = td_clamp_i32(td_rounding_divide_by_pot(y_q0, 31 - kOutputFractionBits), -128, 127);
    }
    out[i] = (int8_t)q;
  }
}

void td_tanh_s8_lut(const int8_t *in, int8_t *out, int32_t size, const int8_t lut[256]) {
  for (int32_t i = 0; i < size; ++i) out[i] = lut[in[i] + 128];
}
