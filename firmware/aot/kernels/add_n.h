/* add_n.h - ADD_N: the element-wise sum of n same-shaped tensors, as TFLite Micro (float32 and int8).
 * float32 adds in input order onto 0.0f.  int8 (all inputs of one quantization, TFLM requires it) replays
 * TFLM's AddN: every input (x - zp) << 20 times a multiplier of 0.5, summed in int32 onto the same
 * rescaled input offset once more (TFLM starts its accumulator from the offset, not from 0), then scaled
 * to the output by a multiplier below one and offset. */
#ifndef TD_ADD_N_H
#define TD_ADD_N_H

#include <stdint.h>

typedef struct {
  int32_t input_offset;  /* -input zero point */
  int32_t output_offset; /* output zero point */
  int32_t left_shift;
  int32_t input_multiplier, input_shift;
  int32_t output_multiplier, output_shift;
} td_add_n_s8_params;

/* ins: n pointers to `size` elements each; out may equal any of them. */
void td_add_n_f32(const float *const *ins, int32_t n, int32_t size, float *out);
void td_add_n_s8(const int8_t *const *ins, int32_t n, int32_t size, int8_t *out, const td_add_n_s8_params *p);

#endif /* TD_ADD_N_H */
