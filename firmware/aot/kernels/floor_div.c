/* floor_div.c - FLOOR_DIV kernel; see floor_div.h. */
#include "floor_div.h"

#include <math.h>

#include "td_bcast.h"

int td_floor_div_f32(const float *a, const float *b, float *out, const td_bcast6 *bc, int32_t b_size) {
  for (int32_t i = 0; i < b_size; ++i) {
    if (b[i] == 0.0f) return 1;
  }
  TD_BCAST6_FOR(float, float, float, a, b, out, bc, *o = (float)floor((double)xa / (double)xb));
  return 0;
}
