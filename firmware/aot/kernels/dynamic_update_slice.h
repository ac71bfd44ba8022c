/* dynamic_update_slice.h - DYNAMIC_UPDATE_SLICE as TFLite Micro (float32, int8, int16, int32 values: one
 * kernel per element size; int32 or int64 start indices, read at run time).  out = operand with `update`
 * written at the start indices, each clamped into [0, operand_dim - update_dim].  As TFLM: when operand
 * and update hold as many elements, out is simply the update. */
#ifndef TD_DYNAMIC_UPDATE_SLICE_H
#define TD_DYNAMIC_UPDATE_SLICE_H

#include <stdint.h>

#define TD_DUS_MAX_RANK 6

typedef struct {
  int32_t rank;
  int32_t elem_bytes;
  int32_t operand_dims[TD_DUS_MAX_RANK];
  int32_t update_dims[TD_DUS_MAX_RANK];
  int32_t indices_64; /* 1: the start indices are int64, else int32 */
} td_dus_params;

/* out may equal operand (not update). */
void td_dynamic_update_slice(const void *operand, const void *update, const void *indices, void *out,
                             const td_dus_params *p);

#endif /* TD_DYNAMIC_UPDATE_SLICE_H */
