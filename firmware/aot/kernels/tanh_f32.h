/* tanh_f32.h - float32 TANH as TFLite Micro's reference kernel computes it (tanhf). */
#ifndef TD_TANH_F32_H
#define TD_TANH_F32_H

#include <stdint.h>

/* May run in place. */
void td_tanh_f32(const float *in, float *out, int32_t size);

#endif /* TD_TANH_F32_H */
