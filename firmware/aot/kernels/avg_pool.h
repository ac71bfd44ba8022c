/* avg_pool.h - AVERAGE_POOL_2D (int8 and float32, NHWC), bit-exact with TFLite Micro's reference kernels. */
#ifndef TD_AVG_POOL_H
#define TD_AVG_POOL_H

#include <stdint.h>

/* Geometry of a 2-D pooling window over an NHWC tensor; shared by AVERAGE_POOL_2D and MAX_POOL_2D.
 * pad_h/pad_w are the top/left padding as TFLite computes it (the odd extra pixel goes bottom/right). */
typedef struct {
  int32_t batches, in_h, in_w, channels;
  int32_t out_h, out_w;
  int32_t stride_h, stride_w;
  int32_t filter_h, filter_w;
  int32_t pad_h, pad_w;
} td_pool_geom;

/* Each output is the mean of the window's in-bounds inputs (padding is not counted), rounded half away
 * from zero, clamped to [act_min, act_max].  Input and output share one quantization. */
void td_avg_pool_s8(const int8_t *in, int8_t *out, const td_pool_geom *g, int32_t act_min, int32_t act_max);

/* Float: window sum in row-major window order divided by the in-bounds count, clamped to [act_min, act_max]. */
void td_avg_pool_f32(const float *in, float *out, const td_pool_geom *g, float act_min, float act_max);

#endif /* TD_AVG_POOL_H */
