/* fully_connected_f32.h - float32 FULLY_CONNECTED (TFLM reference semantics).  Build with -ffp-contract=off. */
#ifndef TD_FULLY_CONNECTED_F32_H
#define TD_FULLY_CONNECTED_F32_H

#include <stdint.h>

typedef struct {
  int32_t batches;
  int32_t depth;
  int32_t out_c;
  float act_min, act_max;
} td_fully_connected_f32_params;

void td_fully_connected_f32(const td_fully_connected_f32_params *p, const float *input, const float *filter,
                            const float *bias, float *output);

#endif /* TD_FULLY_CONNECTED_F32_H */
