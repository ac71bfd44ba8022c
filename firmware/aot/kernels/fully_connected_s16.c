/* fully_connected_s16.c - reference 16x8 fully connected: sum of (filter + filter_offset) * input per unit,
 * then td_requant_s16 (bias, rescale, clamp). */
#include "fully_connected_s16.h"

#include "td_requant_s16.h"

void td_fully_connected_s16(const td_fully_connected_s16_params *p, const int16_t *input, const int8_t *filter,
                            const void *bias, const int32_t *mult, const int32_t *shift, int16_t *output) {
  int32_t b, oc, d;
  for (b = 0; b < p->batches; ++b) {
    const int16_t *row = input + b * p->depth;
    for (oc = 0; oc < p->out_c; ++oc) {
      const int8_t *w = filter + oc * p->depth;
      const int32_t q = p->per_channel ? oc : 0;
      int64_t acc = 0;
      for (d = 0; d < p->depth; ++d) {
        acc += ((int32_t)w[d] + p->filter_offset) * (int32_t)row[d];
      }
      *output++ = td_requant_s16(acc, bias, oc, p->bias_kind, mult[q], shift[q], p->act_min, p->act_max);
    }
  }
}
