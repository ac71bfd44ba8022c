/* arith_i32.h - int32 ADD, SUB and MUL with N-D broadcasting, as TFLite Micro's reference kernels compute them on
 * int32 tensors (index arithmetic the converter leaves in a graph, e.g. a tf.cond inside a tf.while_loop):
 * two's complement wrap-around on overflow; SUB and MUL clamp to the fused activation's int32 range, ADD
 * does not (TFLM's int32 ADD ignores the fused activation, measured on its host interpreter). */
#ifndef TD_ARITH_I32_H
#define TD_ARITH_I32_H

#include <stdint.h>

#include "add.h" /* td_bcast6 */

void td_add_i32(const int32_t *a, const int32_t *b, int32_t *out, const td_bcast6 *bc);
void td_sub_i32(const int32_t *a, const int32_t *b, int32_t *out, const td_bcast6 *bc, int32_t act_min,
                int32_t act_max);
void td_mul_i32(const int32_t *a, const int32_t *b, int32_t *out, const td_bcast6 *bc, int32_t act_min,
                int32_t act_max);

#endif /* TD_ARITH_I32_H */
