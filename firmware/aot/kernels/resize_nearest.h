/* resize_nearest.h - RESIZE_NEAREST_NEIGHBOR (any element type), exact as TFLite Micro's reference kernel:
 * the generator computes each output row's and column's source index (align_corners, half_pixel_centers,
 * float32 arithmetic as TFLM's) and the kernel copies pixels. */
#ifndef TD_RESIZE_NEAREST_H
#define TD_RESIZE_NEAREST_H

#include <stdint.h>

typedef struct {
  int32_t batches, in_h, in_w, out_h, out_w;
  int32_t pixel_bytes;    /* depth * element size */
  const int16_t *src_y;   /* out_h source rows */
  const int16_t *src_x;   /* out_w source columns */
} td_resize_nearest_geom;

/* dst must not overlap src. */
void td_resize_nearest(const void *src, void *dst, const td_resize_nearest_geom *g);

#endif /* TD_RESIZE_NEAREST_H */
