/* resize_bilinear.h - RESIZE_BILINEAR (float32, int8), exact as TFLite Micro's reference kernels.
 * The generator computes, per output row and column, TFLM's interpolation position and its two source
 * indices (float32 positions for float, 10-bit fixed point for integers); the kernel blends. */
#ifndef TD_RESIZE_BILINEAR_H
#define TD_RESIZE_BILINEAR_H

#include <stdint.h>

typedef struct {
  int32_t batches, in_h, in_w, depth, out_h, out_w;
  const int32_t *y0, *y1, *x0, *x1; /* source indices per output row / column */
  const float *fy, *fx;             /* float kernels: the scaled positions */
  const int32_t *qy, *qx;           /* integer kernels: the scaled positions in 1/1024 */
} td_resize_bilinear_geom;

void td_resize_bilinear_f32(const float *src, float *dst, const td_resize_bilinear_geom *g);
void td_resize_bilinear_s8(const int8_t *src, int8_t *dst, const td_resize_bilinear_geom *g);

#endif /* TD_RESIZE_BILINEAR_H */
