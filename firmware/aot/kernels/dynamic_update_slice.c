/* dynamic_update_slice.c - DYNAMIC_UPDATE_SLICE kernel; see dynamic_update_slice.h. */
#include "dynamic_update_slice.h"

#include <string.h>

void td_dynamic_update_slice(const void *operand, const void *update, const void *indices, void *out,
                             const td_dus_params *p) {
  const int32_t rank = p->rank;
  int64_t operand_count = 1, update_count = 1;
  for (int32_t k = 0; k < rank; ++k) {
    operand_count *= p->operand_dims[k];
    update_count *= p->update_dims[k];
  }
  if (operand_count == update_count) {
    memcpy(out, update, (size_t)(update_count * p->elem_bytes));
    return;
  }
  if (out != operand) memcpy(out, operand, (size_t)(operand_count * p->elem_bytes));
  if (update_count == 0) return;

  int32_t start[TD_DUS_MAX_RANK], out_stride[TD_DUS_MAX_RANK], upd_stride[TD_DUS_MAX_RANK];
  for (int32_t k = 0; k < rank; ++k) {
    const int64_t raw = p->indices_64 ? ((const int64_t *)indices)[k] : (int64_t)((const int32_t *)indices)[k];
    const int64_t hi = (int64_t)p->operand_dims[k] - p->update_dims[k];
    start[k] = (int32_t)(raw < 0 ? 0 : (raw > hi ? hi : raw));
  }
  out_stride[rank - 1] = upd_stride[rank - 1] = 1;
  for (int32_t k = rank - 2; k >= 0; --k) {
    out_stride[k] = out_stride[k + 1] * p->operand_dims[k + 1];
    upd_stride[k] = upd_stride[k + 1] * p->update_dims[k + 1];
  }
  /* Walk the update's rows (all axes but the last) with an odometer; each row is one contiguous copy. */
  int32_t idx[TD_DUS_MAX_RANK] = {0};
  const int32_t row_bytes = p->update_dims[rank - 1] * p->elem_bytes;
  const int64_t rows = update_count / p->update_dims[rank - 1];
  for (int64_t r = 0; r < rows; ++r) {
    int64_t o = start[rank - 1], u = 0;
    for (int32_t k = 0; k < rank - 1; ++k) {
      o += (int64_t)(start[k] + idx[k]) * out_stride[k];
      u += (int64_t)idx[k] * upd_stride[k];
    }
    memcpy((uint8_t *)out + o * p->elem_bytes, (const uint8_t *)update + u * p->elem_bytes, (size_t)row_bytes);
    for (int32_t k = rank - 2; k >= 0; --k) {
      if (++idx[k] < p->update_dims[k]) break;
      idx[k] = 0;
    }
  }
}
