/* minimum.c - MINIMUM kernels; see minimum.h.  `a < b ? a : b`, TFLM's own expression. */
#include "minimum.h"

#include "td_bcast.h"

void td_minimum_s8(const int8_t *a, const int8_t *b, int8_t *out, const td_bcast6 *bc) {
  TD_BCAST6_FOR(int8_t, int8_t, int8_t, a, b, out, bc, *o = xa < xb ? xa : xb);
}

void td_minimum_s16(const int16_t *a, const int16_t *b, int16_t *out, const td_bcast6 *bc) {
  TD_BCAST6_FOR(int16_t, int16_t, int16_t, a, b, out, bc, *o = xa < xb ? xa : xb);
}

void td_minimum_i32(const int32_t *a, const int32_t *b, int32_t *out, const td_bcast6 *bc) {
  TD_BCAST6_FOR(int32_t, int32_t, int32_t, a, b, out, bc, *o = xa < xb ? xa : xb);
}

void td_minimum_f32(const float *a, const float *b, float *out, const td_bcast6 *bc) {
  TD_BCAST6_FOR(float, float, float, a, b, out, bc, *o = xa < xb ? xa : xb);
}
