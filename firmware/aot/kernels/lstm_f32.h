/* lstm_f32.h - UNIDIRECTIONAL_SEQUENCE_LSTM, float32, exact as TFLite Micro's reference LSTM kernel.
 *
 * One call runs `steps` time steps over `rows` sequences processed side by side (rows = the batch for a
 * time-major input, 1 for a batch-major one, which the generated code calls once per sequence).  Per step,
 * in TFLM's order: forget, input and cell gates (each FC(x) + bias, plus FC(h), then sigmoid or the cell
 * activation), the cell update c = f*c + i*g (clipped when cell_clip > 0), the output gate from the old h,
 * then h = tanh(c) * o, copied to the output row of this step.  Standard LSTM only: no peephole, projection,
 * layer norm or CIFG (TFLM's kernel has none of them either). */
#ifndef TD_LSTM_F32_H
#define TD_LSTM_F32_H

#include <stdint.h>

enum { TD_LSTM_GATE_INPUT = 0, TD_LSTM_GATE_FORGET = 1, TD_LSTM_GATE_CELL = 2, TD_LSTM_GATE_OUTPUT = 3 };
enum { TD_LSTM_ACT_TANH = 0, TD_LSTM_ACT_SIGMOID = 1 };

typedef struct {
  int32_t steps, rows, n_input, n_cell;
  int32_t in_stride, out_stride;           /* elements between consecutive steps' input / output rows */
  int32_t cell_act;                        /* TD_LSTM_ACT_*: the cell gate's activation */
  float cell_clip;                         /* > 0: clip the cell state to [-cell_clip, cell_clip] */
  const float *w_in[4], *w_rec[4];         /* per gate (TD_LSTM_GATE_*): [n_cell][n_input], [n_cell][n_cell] */
  const float *bias[4];                    /* per gate: [n_cell] */
} td_lstm_f32_params;

/* h, c: rows*n_cell state (read and updated); scratch: 4*rows*n_cell floats. */
void td_lstm_f32(const td_lstm_f32_params *p, const float *x, float *h, float *c, float *out, float *scratch);

#endif /* TD_LSTM_F32_H */
