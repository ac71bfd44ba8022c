/* softmax_f32.h - float32 SOFTMAX, computed as TFLite Micro's reference kernel does. */
#ifndef TD_SOFTMAX_F32_H
#define TD_SOFTMAX_F32_H

#include <stdint.h>

/* Softmax with temperature beta over the innermost `depth` elements of each of `outer` rows.
 * May run in place (out == in). */
void td_softmax_f32(const float *in, float *out, int32_t outer, int32_t depth, float beta);

#endif /* TD_SOFTMAX_F32_H */
