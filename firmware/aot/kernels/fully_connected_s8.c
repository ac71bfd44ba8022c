/* fully_connected_s8.c - reference int8 fully connected, TFLM's reference integer FullyConnected semantics. */
#include "fully_connected_s8.h"

#include "td_fixedpoint.h"

void td_fully_connected_s8(const td_fully_connected_s8_params *p, const int8_t *input, const int8_t *filter,
                           const int32_t *bias, const int32_t *mult, const int32_t *shift, int8_t *output) {
  int32_t b, oc, d;
  for (b = 0; b < p->batches; ++b) {
    const int8_t *row = input + b * p->depth;
    for (oc = 0; oc < p->out_c; ++oc) {
      const int8_t *w = filter + oc * p->depth;
      const int32_t ch = p->per_channel ? oc : 0;
      int32_t acc = 0;
      for (d = 0; d < p->depth; ++d) {
        acc += ((int32_t)w[d] + p->filter_offset) * ((int32_t)row[d] + p->input_offset);
      }
      if (bias) acc += bias[oc];
      acc = td_mul_by_quantized_multiplier(acc, mult[ch], shift[ch]);
      acc += p->output_offset;
      acc = td_clamp_i32(acc, p->act_min, p->act_max);
      output[b * p->out_c + oc] = (int8_t)acc;
    }
  }
}
