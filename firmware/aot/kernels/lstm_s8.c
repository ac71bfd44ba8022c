/* lstm_s8.c - integer (int8 activations, int16 cell) UNIDIRECTIONAL_SEQUENCE_LSTM; see lstm_s8.h. */
#include "lstm_s8.h"

#include <stddef.h>

#include "logistic_s16.h"
#include "tanh_s16.h"
#include "td_fixedpoint.h"

/* TFLM's integer FULLY_CONNECTED int8 -> int16 (weights zero point 0): int32 accumulator, gemmlowp
 * requantization, int16 clamp. */
static void td_lstm_fc_s8(const int8_t *x, int32_t x_offset, const int8_t *w, const int32_t *bias,
                          const td_lstm_fc_rq *rq, int32_t rows, int32_t depth, int32_t n_out, int16_t *y) {
  for (int32_t r = 0; r < rows; ++r)
    for (int32_t o = 0; o < n_out; ++o) {
      int32_t acc = 0;
      const int8_t *xr = x + (size_t)r * (size_t)depth, *wo = w + (size_t)o * (size_t)depth;
      for (int32_t d = 0; d < depth; ++d) acc += (int32_t)wo[d] * ((int32_t)xr[d] + x_offset);
      if (bias) acc += bias[o];
      acc = td_mul_by_quantized_multiplier(acc, rq->mult, rq->shift);
      y[(size_t)r * (size_t)n_out + (size_t)o] = (int16_t)td_clamp_i32(acc, -32768, 32767);
    }
}

static int32_t td_lstm_sat16(int32_t v) { return td_clamp_i32(v, -32768, 32767); }

/* TFLM's integer MulElementwise of two int16 operands (zero points 0). */
static int32_t td_lstm_mul(int16_t a, int16_t b, const td_lstm_mul_rq *m) {
  const int32_t v = m->out_zp + td_mul_by_quantized_multiplier((int32_t)a * (int32_t)b, m->mult, m->shift);
  return td_clamp_i32(v, m->out_min, m->out_max);
}

static void td_lstm_gate_s8(const td_lstm_s8_params *p, int gate, int32_t act, const int8_t *x, const int8_t *h,
                            int16_t *out, int16_t *tmp) {
  const int32_t n = p->rows * p->n_cell;
  td_lstm_fc_s8(x, -p->input_zp, p->w_in[gate], p->bias[gate], &p->fc_in[gate], p->rows, p->n_input, p->n_cell,
                out);
  td_lstm_fc_s8(h, -p->hidden_zp, p->w_rec[gate], NULL, &p->fc_rec[gate], p->rows, p->n_cell, p->n_cell, tmp);
  for (int32_t i = 0; i < n; ++i) out[i] = (int16_t)td_lstm_sat16((int32_t)out[i] + (int32_t)tmp[i]);
  /* The gates' Q3.12 input is TFLM's power-of-two case of both activations: multiplier 3, no shift. */
  if (act == TD_LSTM_ACT_SIGMOID)
    td_logistic_s16(out, out, n, 3, 0, p->sigmoid_table);
  else
    td_tanh_s16(out, out, n, 3, 0, p->sigmoid_table);
}

void td_lstm_s8(const td_lstm_s8_params *p, const int8_t *x, int8_t *h, int16_t *c, int8_t *out,
                int16_t *scratch) {
  const int32_t n = p->rows * p->n_cell;
  int16_t *forget = scratch, *input = scratch + n, *cell = scratch + 2 * n, *tmp = scratch + 3 * n;
  for (int32_t t = 0; t < p->steps; ++t) {
    const int8_t *xt = x + (size_t)t * (size_t)p->in_stride;
    td_lstm_gate_s8(p, TD_LSTM_GATE_FORGET, TD_LSTM_ACT_SIGMOID, xt, h, forget, tmp);
    td_lstm_gate_s8(p, TD_LSTM_GATE_INPUT, TD_LSTM_ACT_SIGMOID, xt, h, input, tmp);
    td_lstm_gate_s8(p, TD_LSTM_GATE_CELL, p->cell_act, xt, h, cell, tmp);
    for (int32_t i = 0; i < n; ++i) {
      const int32_t kept = td_lstm_mul(forget[i], c[i], &p->forget_mul);
      const int32_t added = td_lstm_mul(input[i], cell[i], &p->input_mul);
      int32_t v = td_lstm_sat16(kept + added);
      if (p->cell_clip > 0) v = td_clamp_i32(v, -p->cell_clip, p->cell_clip);
      c[i] = (int16_t)v;
    }
    int16_t *output_gate = input; /* the input gate's buffer is free again */
    td_lstm_gate_s8(p, TD_LSTM_GATE_OUTPUT, TD_LSTM_ACT_SIGMOID, xt, h, output_gate, tmp);
    int8_t *yt = out + (size_t)t * (size_t)p->out_stride;
    int16_t *squashed = tmp; /* free again after the output gate */
    td_tanh_s16(c, squashed, n, p->tanh_mult, p->tanh_shift, p->sigmoid_table);
    for (int32_t i = 0; i < n; ++i) {
      h[i] = (int8_t)td_lstm_mul(squashed[i], output_gate[i], &p->hidden_mul);
      yt[i] = h[i];
    }
  }
}
