/* logistic_f32.h - float32 LOGISTIC as TFLite Micro's reference kernel computes it. */
#ifndef TD_LOGISTIC_F32_H
#define TD_LOGISTIC_F32_H

#include <stdint.h>

/* out = 1 / (1 + exp(-in)) with TFLM's cut-offs; may run in place. */
void td_logistic_f32(const float *in, float *out, int32_t size);

#endif /* TD_LOGISTIC_F32_H */
