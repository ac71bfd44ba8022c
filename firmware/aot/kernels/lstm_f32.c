/* lstm_f32.c - float32 UNIDIRECTIONAL_SEQUENCE_LSTM; see lstm_f32.h. */
#include "lstm_f32.h"

#include <float.h>
#include <stddef.h>

#include "logistic_f32.h"
#include "tanh_f32.h"

/* TFLM's float FULLY_CONNECTED (no activation): products summed in order, then the bias (0 when absent). */
static void td_lstm_fc_f32(const float *x, const float *w, const float *bias, int32_t rows, int32_t depth,
                           int32_t n_out, float *y) {
  for (int32_t r = 0; r < rows; ++r)
    for (int32_t o = 0; o < n_out; ++o) {
      float total = 0.0f;
      for (int32_t d = 0; d < depth; ++d) total += x[(size_t)r * (size_t)depth + (size_t)d] * w[(size_t)o * (size_t)depth + (size_t)d];
      const float v = total + (bias ? bias[o] : 0.0f);
      y[(size_t)r * (size_t)n_out + (size_t)o] = v < -FLT_MAX ? -FLT_MAX : (v > FLT_MAX ? FLT_MAX : v);
    }
}

static void td_lstm_gate_f32(const td_lstm_f32_params *p, int gate, int32_t act, const float *x, const float *h,
                             float *out, float *tmp) {
  const int32_t n = p->rows * p->n_cell;
  td_lstm_fc_f32(x, p->w_in[gate], p->bias[gate], p->rows, p->n_input, p->n_cell, out);
  td_lstm_fc_f32(h, p->w_rec[gate], NULL, p->rows, p->n_cell, p->n_cell, tmp);
  for (int32_t i = 0; i < n; ++i) out[i] = out[i] + tmp[i];
  if (act == TD_LSTM_ACT_SIGMOID)
    td_logistic_f32(out, out, n);
  else
    td_tanh_f32(out, out, n);
}

void td_lstm_f32(const td_lstm_f32_params *p, const float *x, float *h, float *c, float *out, float *scratch) {
  const int32_t n = p->rows * p->n_cell;
  float *forget = scratch, *input = scratch + n, *cell = scratch + 2 * n, *tmp = scratch + 3 * n;
  for (int32_t t = 0; t < p->steps; ++t) {
    const float *xt = x + (size_t)t * (size_t)p->in_stride;
    td_lstm_gate_f32(p, TD_LSTM_GATE_FORGET, TD_LSTM_ACT_SIGMOID, xt, h, forget, tmp);
    td_lstm_gate_f32(p, TD_LSTM_GATE_INPUT, TD_LSTM_ACT_SIGMOID, xt, h, input, tmp);
    td_lstm_gate_f32(p, TD_LSTM_GATE_CELL, p->cell_act, xt, h, cell, tmp);
    for (int32_t i = 0; i < n; ++i) {
      const float kept = forget[i] * c[i];
      const float added = input[i] * cell[i];
      float v = kept + added;
      if (p->cell_clip > 0.0f) {
        v = v < p->cell_clip ? v : p->cell_clip;
        v = v < -p->cell_clip ? -p->cell_clip : v;
      }
      c[i] = v;
    }
    float *output_gate = input; /* the input gate's buffer is free again */
    td_lstm_gate_f32(p, TD_LSTM_GATE_OUTPUT, TD_LSTM_ACT_SIGMOID, xt, h, output_gate, tmp);
    td_tanh_f32(c, forget, n);
    float *yt = out + (size_t)t * (size_t)p->out_stride;
    for (int32_t i = 0; i < n; ++i) {
      h[i] = forget[i] * output_gate[i];
      yt[i] = h[i];
    }
  }
}
