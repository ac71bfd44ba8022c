/* broadcast_args.h - BROADCAST_ARGS as TFLite Micro (int32 or int64 shape vectors, read at run time): the
 * broadcast of two shapes, aligned at their last dimension (a missing dimension counts as 1); each output
 * dimension is the other shape's where one shape has 1.  Dimensions pass through int as in TFLite's
 * reference.  Returns 1 (TFLM aborts) when two dimensions differ and neither is 1. */
#ifndef TD_BROADCAST_ARGS_H
#define TD_BROADCAST_ARGS_H

#include <stdint.h>

int td_broadcast_args_i32(const int32_t *a, int32_t na, const int32_t *b, int32_t nb, int32_t *out, int32_t n);
int td_broadcast_args_i64(const int64_t *a, int32_t na, const int64_t *b, int32_t nb, int64_t *out, int32_t n);

#endif /* TD_BROADCAST_ARGS_H */
