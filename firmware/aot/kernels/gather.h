/* gather.h - GATHER and GATHER_ND (any element type), exact copies as TFLite Micro's reference kernels
 * make them. */
#ifndef TD_GATHER_H
#define TD_GATHER_H

#include <stdint.h>

/* GATHER: params viewed as [batch][outer][axis_size][inner_bytes], indices as [batch][coords]; the output is
 * [batch][outer][coords][inner_bytes].  index_bytes: 4 (int32 indices) or 8 (int64). */
typedef struct {
  int32_t batch;
  int32_t outer;
  int32_t axis_size;
  int32_t coords;
  int32_t inner_bytes;
  int32_t index_bytes;
} td_gather_geom;

/* An index outside [0, axis_size) (TFLM fails the inference) yields a zero-filled slice here, never a read
 * outside params. */
void td_gather(const void *params, const void *indices, void *out, const td_gather_geom *g);

/* GATHER_ND: indices [n_slices][depth] (int32) select slices of slice_bytes from params, whose leading
 * `depth` axes have the given sizes and byte strides (at most 8 axes). */
typedef struct {
  int32_t n_slices;
  int32_t depth;
  int32_t slice_bytes;
  int32_t dims[8];
  int32_t strides[8];
} td_gather_nd_geom;

void td_gather_nd(const void *params, const int32_t *indices, void *out, const td_gather_nd_geom *g);

#endif /* TD_GATHER_H */
