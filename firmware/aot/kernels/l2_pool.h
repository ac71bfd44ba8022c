/* l2_pool.h - L2_POOL_2D (float32, NHWC), bit-exact with TFLite Micro's reference kernel. */
#ifndef TD_L2_POOL_H
#define TD_L2_POOL_H

#include <stdint.h>

#include "avg_pool.h" /* td_pool_geom */

/* Each output is sqrtf(sum of the window's in-bounds squares, in row-major window order, / their count),
 * clamped to [act_min, act_max]. */
void td_l2_pool_f32(const float *in, float *out, const td_pool_geom *g, float act_min, float act_max);

#endif /* TD_L2_POOL_H */
