/* mirror_pad.h - MIRROR_PAD (REFLECT and SYMMETRIC, any element type, up to 6-D), exact copies as TFLite
 * Micro's reference kernel makes them. */
#ifndef TD_MIRROR_PAD_H
#define TD_MIRROR_PAD_H

#include <stdint.h>

/* The dense row-major output over out_dims[0..5]; output index i_k on axis k reads the input at element
 * offset sum(src_offsets[table_start[k] + i_k]).  The generator computes each axis' mirrored source index
 * times the input's stride on that axis, so every read is inside the input by construction. */
typedef struct {
  int32_t out_dims[6];
  int32_t table_start[6];
  const int32_t *src_offsets;
} td_mirror_pad6;

/* elem_size: 1, 2, 4 or 8 bytes.  dst must not overlap src. */
void td_mirror_pad(const void *src, void *dst, int32_t elem_size, const td_mirror_pad6 *p);

#endif /* TD_MIRROR_PAD_H */
