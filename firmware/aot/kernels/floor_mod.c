/* floor_mod.c - FLOOR_MOD kernel; see floor_mod.h. */
#include "floor_mod.h"

#include <math.h>

#include "td_bcast.h"

static float td_floor_mod_one(float a, float b) {
  const float r = fmodf(a, b);
  return (r != 0.0f && ((b < 0.0f) != (r < 0.0f))) ? r + b : r;
}

void td_floor_mod_f32(const float *a, const float *b, float *out, const td_bcast6 *bc) {
  TD_BCAST6_FOR(float, float, float, a, b, out, bc, *o = td_floor_mod_one(xa, xb));
}
