/* fully_connected_s8.h - int8 FULLY_CONNECTED, per-tensor or per-channel weights, any batch. */
#ifndef TD_FULLY_CONNECTED_S8_H
#define TD_FULLY_CONNECTED_S8_H

#include <stdint.h>

typedef struct {
  int32_t batches;       /* rows of the input, each `depth` values */
  int32_t depth;         /* accumulation depth (the filter's last dimension) */
  int32_t out_c;         /* output units (the filter's first dimension) */
  int32_t input_offset;  /* -input zero point */
  int32_t filter_offset; /* -filter zero point (0 for symmetric int8 weights) */
  int32_t output_offset;
  int32_t act_min, act_max;
  int32_t per_channel;   /* 0: mult[0]/shift[0] for every unit */
} td_fully_connected_s8_params;

void td_fully_connected_s8(const td_fully_connected_s8_params *p, const int8_t *input, const int8_t *filter,
                           const int32_t *bias, const int32_t *mult, const int32_t *shift, int8_t *output);

#endif /* TD_FULLY_CONNECTED_S8_H */
