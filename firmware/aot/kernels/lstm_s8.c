/* lstm_s8.c - integer (int8 activations, int16 cell) UNIDIRECTIONAL_SEQUENCE_LSTM; see lstm_s8.h. */
#include "lstm_s8.h"

#include <stddef.h>
#include <stdlib.h>

#include "td_fixedpoint.h"

/* sigmoid(i / 24) in unsigned 0.16 for i = 0..255: the table TFLM's int16 LOGISTIC and TANH interpolate
 * (its last entries are rounded up, so it is data, not a formula; the test compares it with the table in
 * the tflite-micro host interpreter). */
static const uint16_t td_sigmoid_q16[256] = {
    32768, 33451, 34133, 34813, 35493, 36169, 36843, 37513, 38180, 38841, 39498, 40149,
    40794, 41432, 42064, 42688, 43304, 43912, 44511, 45102, 45683, 46255, 46817, 47369,
    47911, 48443, 48964, 49475, 49975, 50464, 50942, 51409, 51865, 52311, 52745, 53169,
    53581, 53983, 54374, 54755, 55125, 55485, 55834, 56174, 56503, 56823, 57133, 57433,
    57724, 58007, 58280, 58544, 58800, 59048, 59288, 59519, 59743, 59959, 60168, 60370,
    60565, 60753, 60935, 61110, 61279, 61441, 61599, 61750, 61896, 62036, 62172, 62302,
    62428, 62549, 62666, 62778, 62886, 62990, 63090, 63186, 63279, 63368, 63454, 63536,
    63615, 63691, 63765, 63835, 63903, 63968, 64030, 64090, 64148, 64204, 64257, 64308,
    64357, 64405, 64450, 64494, 64536, 64576, 64614, 64652, 64687, 64721, 64754, 64786,
    64816, 64845, 64873, 64900, 64926, 64950, 64974, 64997, 65019, 65039, 65060, 65079,
    65097, 65115, 65132, 65149, 65164, 65179, 65194, 65208, 65221, 65234, 65246, 65258,
    65269, 65280, 65291, 65301, 65310, 65319, 65328, 65337, 65345, 65352, 65360, 65367,
    65374, 65381, 65387, 65393, 65399, 65404, 65410, 65415, 65420, 65425, 65429, 65433,
    65438, 65442, 65445, 65449, 65453, 65456, 65459, 65462, 65465, 65468, 65471, 65474,
    65476, 65479, 65481, 65483, 65485, 65488, 65489, 65491, 65493, 65495, 65497, 65498,
    65500, 65501, 65503, 65504, 65505, 65507, 65508, 65509, 65510, 65511, 65512, 65513,
    65514, 65515, 65516, 65517, 65517, 65518, 65519, 65520, 65520, 65521, 65522, 65522,
    65523, 65523, 65524, 65524, 65525, 65525, 65526, 65526, 65526, 65527, 65527, 65528,
    65528, 65528, 65529, 65529, 65529, 65529, 65530, 65530, 65530, 65530, 65531, 65531,
    65531, 65531, 65531, 65532, 65532, 65532, 65532, 65532, 65532, 65533, 65533, 65533,
    65533, 65533, 65533, 65533, 65533, 65534, 65534, 65534, 65534, 65534, 65534, 65534,
    65534, 65534, 65534, 65535,
};

/* TFLM's int16 Logistic with input multiplier 0 and shift 0 (the gates' Q3.12 input): times 3, table
 * interpolation with 9 fraction bits, Q0.15 out. */
static int16_t td_lstm_sigmoid_s16(int16_t v) {
  const int32_t in = (int32_t)v * 3;
  const uint32_t mag = (uint32_t)abs(in);
  const uint32_t hi = mag >> 9;
  uint32_t r;
  if (hi >= 255) {
    r = 0x7FFFu << 10;
  } else {
    const uint32_t a = td_sigmoid_q16[hi], b = td_sigmoid_q16[hi + 1];
    r = (a << 9) + (mag & 0x1FFu) * (b - a);
  }
  r = in >= 0 ? r + (1u << 9) : (1u << 25) - r + (1u << 9) - 1u;
  return (int16_t)(r >> 10);
}

/* TFLM's int16 Tanh: (v * mult + round) >> shift, table interpolation with 8 fraction bits, Q0.15 out. */
static int16_t td_lstm_tanh_s16(int16_t v, int32_t mult, int32_t shift) {
  const int32_t round = shift > 0 ? (1 << (shift - 1)) : 0;
  const int32_t in = ((int32_t)v * mult + round) >> shift;
  const uint32_t mag = (uint32_t)abs(in);
  const uint32_t hi = mag >> 8;
  int32_t r;
  if (hi >= 255) {
    r = 0xFFFF << 8;
  } else {
    const uint32_t a = td_sigmoid_q16[hi], b = td_sigmoid_q16[hi + 1];
    const uint8_t frac = (uint8_t)(mag & 0xFFu);
    r = (int32_t)((a << 8) + frac * (b - a));
  }
  r = in >= 0 ? r - (1 << 23) + (1 << 7) : -r + (1 << 23) + (1 << 7) - 1;
  return (int16_t)(r >> 8);
}

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
  for (int32_t i = 0; i < n; ++i) {
    const int16_t sum = (int16_t)td_lstm_sat16((int32_t)out[i] + (int32_t)tmp[i]);
    /* the cell gate's tanh: TFLM passes the Q3.12 scale power -12, i.e. multiplier 3, no shift */
    out[i] = act == TD_LSTM_ACT_SIGMOID ? td_lstm_sigmoid_s16(sum) : td_lstm_tanh_s16(sum, 3, 0);
  }
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
    for (int32_t i = 0; i < n; ++i) {
      const int16_t squashed = td_lstm_tanh_s16(c[i], p->tanh_mult, p->tanh_shift);
      h[i] = (int8_t)td_lstm_mul(squashed, output_gate[i], &p->hidden_mul);
      yt[i] = h[i];
    }
  }
}
