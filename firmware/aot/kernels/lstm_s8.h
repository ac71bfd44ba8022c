/* lstm_s8.h - UNIDIRECTIONAL_SEQUENCE_LSTM with int8 activations, exact as TFLite Micro's integer LSTM.
 *
 * TFLM's "8x8->16" LSTM: int8 input, hidden state and output; int8 weights; int32 biases; int16 cell state
 * (a power-of-two scale) and int16 gates.  Per step and gate: the input FC (with the gate bias) and the
 * recurrent FC (no bias) each requantize to int16 in Q3.12, their sum saturates, then the int16 sigmoid or
 * tanh (TFLM's table interpolation: logistic_s16.h, tanh_s16.h, on the generated sigmoid table) gives
 * Q0.15.  Cell: c = f*c and i*g requantized to the cell scale, saturating sum, clip; output gate from the
 * old h; h = tanh(c) * o requantized to int8 with the hidden zero point.  Step order and buffers as in
 * lstm_f32.h. */
#ifndef TD_LSTM_S8_H
#define TD_LSTM_S8_H

#include <stdint.h>

#include "lstm_f32.h" /* TD_LSTM_GATE_* and TD_LSTM_ACT_* */

typedef struct {
  int32_t mult, shift;     /* requantization to the int16 gate (Q3.12) */
} td_lstm_fc_rq;

typedef struct {
  int32_t mult, shift, out_zp, out_min, out_max;
} td_lstm_mul_rq;

typedef struct {
  int32_t steps, rows, n_input, n_cell;
  int32_t in_stride, out_stride;
  int32_t cell_act;                     /* TD_LSTM_ACT_*: the cell gate's activation */
  int32_t input_zp, hidden_zp;          /* zero points of x and h (the FCs add their negation) */
  int32_t cell_clip;                    /* quantized cell clip, 0: none */
  int32_t tanh_mult, tanh_shift;        /* TFLM's Tanh input multiplier / left shift for the cell state */
  td_lstm_fc_rq fc_in[4], fc_rec[4];    /* per gate (TD_LSTM_GATE_*) */
  td_lstm_mul_rq forget_mul, input_mul, hidden_mul;
  const int8_t *w_in[4], *w_rec[4];     /* per gate: [n_cell][n_input], [n_cell][n_cell] */
  const int32_t *bias[4];               /* per gate: [n_cell] */
  const uint16_t *sigmoid_table;        /* the 256-entry table logistic_s16.h and tanh_s16.h interpolate */
} td_lstm_s8_params;

/* h: rows*n_cell int8, c: rows*n_cell int16 (read and updated); scratch: 4*rows*n_cell int16. */
void td_lstm_s8(const td_lstm_s8_params *p, const int8_t *x, int8_t *h, int16_t *c, int8_t *out,
                int16_t *scratch);

#endif /* TD_LSTM_S8_H */
