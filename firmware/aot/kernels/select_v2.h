/* select_v2.h - SELECT_V2 (out = cond ? x : y with N-D broadcasting of all three), as TFLite Micro's
 * reference Select: a copy of the chosen element, so one kernel per element size serves every dtype. */
#ifndef TD_SELECT_V2_H
#define TD_SELECT_V2_H

#include <stdint.h>

/* The dense row-major output over dims[0..5]; the condition and the two inputs are read at their own
 * element strides (0 along a broadcast axis). */
typedef struct {
  int32_t dims[6];
  int32_t sc[6];
  int32_t sx[6];
  int32_t sy[6];
} td_bcast6x3;

/* cond: bool bytes.  Elements of `elem_bytes` = 1, 2 or 4 bytes (int8/bool, int16, int32/float32), copied bit
 * for bit; strides count elements.  out must not overlap the inputs. */
void td_select_v2(const uint8_t *cond, const void *x, const void *y, void *out, const td_bcast6x3 *v,
                  uint32_t elem_bytes);

#endif /* TD_SELECT_V2_H */
