/* max_pool.h - MAX_POOL_2D (int8 and float32, NHWC), bit-exact with TFLite Micro's reference kernels. */
#ifndef TD_MAX_POOL_H
#define TD_MAX_POOL_H

#include <stdint.h>

#include "avg_pool.h" /* td_pool_geom */

/* Each output is the maximum of the window's in-bounds inputs, clamped to [act_min, act_max]. */
void td_max_pool_s8(const int8_t *in, int8_t *out, const td_pool_geom *g, int32_t act_min, int32_t act_max);
void td_max_pool_f32(const float *in, float *out, const td_pool_geom *g, float act_min, float act_max);

#endif /* TD_MAX_POOL_H */
