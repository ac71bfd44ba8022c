/* pad.h - PAD / PADV2 with a constant (any element type), exact as TFLite Micro's reference kernel. */
#ifndef TD_PAD_H
#define TD_PAD_H

#include <stdint.h>

/* Input in_dims placed at offset `before` inside the dense row-major output out_dims (both 6-D, leading
 * axes of size 1 when the tensor has fewer). */
typedef struct {
  int32_t in_dims[6];
  int32_t out_dims[6];
  int32_t before[6];
} td_pad6;

/* Every output element outside the input region gets *pad_value (elem_size bytes: 1, 2, 4 or 8).
 * dst must not overlap src. */
void td_pad(const void *src, void *dst, int32_t elem_size, const td_pad6 *p, const void *pad_value);

#endif /* TD_PAD_H */
