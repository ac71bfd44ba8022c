/* cast.c - CAST kernel; see cast.h. */
#include "cast.h"

static double td_cast_load(const void *in, int32_t type, int32_t i) {
  switch (type) {
    case 0: return (double)((const float *)in)[i];
    case 2: return (double)((const int32_t *)in)[i];
    case 6: return ((const uint8_t *)in)[i] != 0 ? 1.0 : 0.0;
    case 7: return (double)((const int16_t *)in)[i];
    default: return (double)((const int8_t *)in)[i];
  }
}

static void td_cast_store(void *out, int32_t type, int32_t i, double v) {
  switch (type) {
    case 0: ((float *)out)[i] = (float)v; break;
    case 2: ((int32_t *)out)[i] = (int32_t)v; break;
    case 6: ((uint8_t *)out)[i] = (uint8_t)(v != 0.0); break;
    case 7: ((int16_t *)out)[i] = (int16_t)(int32_t)v; break;
    default: ((int8_t *)out)[i] = (int8_t)(int32_t)v; break;
  }
}

void td_cast(const void *in, int32_t in_type, void *out, int32_t out_type, int32_t n) {
  for (int32_t i = 0; i < n; ++i) td_cast_store(out, out_type, i, td_cast_load(in, in_type, i));
}
