/* fully_connected_s16.h - 16x8 FULLY_CONNECTED (int16 input, int8 weights per-tensor or per-channel), any
 * batch, bit-exact with TFLM's reference kernels (FullyConnected / FullyConnectedPerChannel for int16). */
#ifndef TD_FULLY_CONNECTED_S16_H
#define TD_FULLY_CONNECTED_S16_H

#include <stdint.h>

typedef struct {
  int32_t batches;       /* rows of the input, each `depth` values */
  int32_t depth;         /* accumulation depth (the filter's last dimension) */
  int32_t out_c;         /* output units (the filter's first dimension) */
  int32_t filter_offset; /* -filter zero point (per-tensor weights only; TFLM ignores it per channel) */
  int32_t act_min, act_max;
  int32_t per_channel;   /* 0: mult[0]/shift[0] for every unit */
  int32_t bias_kind;     /* td_requant_s16.h */
} td_fully_connected_s16_params;

void td_fully_connected_s16(const td_fully_connected_s16_params *p, const int16_t *input, const int8_t *filter,
                            const void *bias, const int32_t *mult, const int32_t *shift, int16_t *output);

#endif /* TD_FULLY_CONNECTED_S16_H */
