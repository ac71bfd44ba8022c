/* fully_connected_f32.c - reference float fully connected. */
#include "fully_connected_f32.h"

void td_fully_connected_f32(const td_fully_connected_f32_params *p, const float *input, const float *filter,
                            const float *bias, float *output) {
  int32_t b, oc, d;
  for (b = 0; b < p->batches; ++b) {
    const float *row = input + b * p->depth;
    for (oc = 0; oc < p->out_c; ++oc) {
      const float *w = filter + oc * p->depth;
      float total = 0.0f;
      float v;
      for (d = 0; d < p->depth; ++d) total += row[d] * w[d];
      v = total + (bias ? bias[oc] : 0.0f);
      v = v < p->act_min ? p->act_min : v;
      output[b * p->out_c + oc] = p->act_max < v ? p->act_max : v;
    }
  }
}
