/* pool_s16.h - int16 AVERAGE_POOL_2D and MAX_POOL_2D (NHWC), bit-exact with TFLite Micro's reference kernels:
 * the int8 kernels' arithmetic on int16 codes (input and output share one quantization, as TFLM requires). */
#ifndef TD_POOL_S16_H
#define TD_POOL_S16_H

#include <stdint.h>

#include "avg_pool.h" /* td_pool_geom */

/* Mean of the window's in-bounds inputs, rounded half away from zero, clamped to [act_min, act_max]. */
void td_avg_pool_s16(const int16_t *in, int16_t *out, const td_pool_geom *g, int32_t act_min, int32_t act_max);
/* Maximum of the window's in-bounds inputs, clamped to [act_min, act_max]. */
void td_max_pool_s16(const int16_t *in, int16_t *out, const td_pool_geom *g, int32_t act_min, int32_t act_max);

#endif /* TD_POOL_S16_H */
