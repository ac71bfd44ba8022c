/* div.c - DIV kernel; see div.h. */
#include "div.h"

#include "td_bcast.h"

void td_div_f32(const float *a, const float *b, float *out, const td_bcast6 *bc, float act_min, float act_max) {
  TD_BCAST6_FOR(float, float, float, a, b, out, bc, *o = td_clamp_f32_range(xa / xb, act_min, act_max));
}
