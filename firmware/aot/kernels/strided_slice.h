/* strided_slice.h - the one N-D strided gather of the aot runtime: STRIDED_SLICE and TRANSPOSE
 * (any element type), exact copies as TFLite Micro's reference kernels make them. */
#ifndef TD_STRIDED_SLICE_H
#define TD_STRIDED_SLICE_H

#include <stdint.h>

/* The dense row-major output over dims[0..5] is read from the source at
 * src[offset + sum(i_k * strides[k])], strides in elements and possibly negative (reverse slices) or
 * permuted (TRANSPOSE).  The generator folds begin indices into offset and merges contiguous axes. */
typedef struct {
  int32_t dims[6];
  int32_t strides[6];
  int32_t offset;
} td_strided6;

/* elem_size: 1, 2, 4 or 8 bytes.  dst must not overlap src. */
void td_strided_copy(const void *src, void *dst, int32_t elem_size, const td_strided6 *s);

#endif /* TD_STRIDED_SLICE_H */
