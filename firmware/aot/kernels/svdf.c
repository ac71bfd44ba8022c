/* svdf.c - SVDF, float32 and integer; see svdf.h.
 *
 * The float sums run in TFLM's order (feature dot over the input, time dot over the memory, bias then the
 * rank filters in turn) so that every rounding matches.  Integer dot products wrap in uint32_t: TFLM's int32
 * accumulators wrap on the host, C's signed ones would be undefined. */
#include "svdf.h"

#include <math.h>
#include <string.h>

#include "td_fixedpoint.h"

static float td_svdf_activation(int32_t act, float a) {
  switch (act) {
    case TD_SVDF_ACT_RELU: return a > 0.0f ? a : 0.0f;
    case TD_SVDF_ACT_RELU_N1_TO_1: return a < -1.0f ? -1.0f : (a > 1.0f ? 1.0f : a);
    case TD_SVDF_ACT_RELU6: return a < 0.0f ? 0.0f : (a > 6.0f ? 6.0f : a);
    case TD_SVDF_ACT_TANH: return tanhf(a);
    case TD_SVDF_ACT_SIGN_BIT: return signbit(a) ? 1.0f : 0.0f;
    default: return a;
  }
}

void td_svdf_f32(const td_svdf_f32_params *p, const float *in, float *state, float *out) {
  const int32_t mem = p->n_memory, nf = p->n_filter, n_unit = p->n_filter / p->rank;
  const int32_t total = p->batch * nf * mem;
  if (total > 1) memmove(state, state + 1, (size_t)(total - 1) * sizeof(float));
  for (int32_t b = 0; b < p->batch; ++b) {
    const float *x = in + b * p->n_input;
    float *st = state + b * nf * mem;
    for (int32_t f = 0; f < nf; ++f) {
      const float *w = p->w_feature + f * p->n_input;
      float dot = 0.0f;
      for (int32_t k = 0; k < p->n_input; ++k) dot += w[k] * x[k];
      st[f * mem + mem - 1] = dot;
    }
    for (int32_t u = 0; u < n_unit; ++u) {
      float acc = p->bias ? p->bias[u] : 0.0f;
      for (int32_t r = 0; r < p->rank; ++r) {
        const int32_t f = u * p->rank + r;
        const float *wt = p->w_time + f * mem, *s = st + f * mem;
        float dot = 0.0f;
        for (int32_t j = 0; j < mem; ++j) dot += wt[j] * s[j];
        acc += dot;
      }
      out[b * n_unit + u] = td_svdf_activation(p->activation, acc);
    }
  }
}

static int32_t td_svdf_load(const void *base, int32_t i, int32_t bytes) {
  return bytes == 2 ? ((const int16_t *)base)[i] : ((const int8_t *)base)[i];
}

void td_svdf_s8(const td_svdf_s8_params *p, const int8_t *in, void *state, int8_t *out) {
  const int32_t mem = p->n_memory, nf = p->n_filter, n_unit = p->n_filter / p->rank, bytes = p->state_bytes;
  const int32_t total = p->batch * nf * mem;
  const int32_t lo = bytes == 2 ? INT16_MIN : INT8_MIN, hi = bytes == 2 ? INT16_MAX : INT8_MAX;
  if (total > 1) memmove(state, (uint8_t *)state + bytes, (size_t)(total - 1) * (size_t)bytes);
  for (int32_t b = 0; b < p->batch; ++b) {
    const int8_t *x = in + b * p->n_input;
    const int32_t base = b * nf * mem;
    for (int32_t f = 0; f < nf; ++f) {
      const int8_t *w = p->w_feature + f * p->n_input;
      uint32_t dot = 0;
      for (int32_t k = 0; k < p->n_input; ++k) dot += (uint32_t)(w[k] * (x[k] - p->input_zp));
      int32_t v = td_mul_by_quantized_multiplier((int32_t)dot, p->feature_mult, p->feature_shift) + p->state_zp;
      v = td_clamp_i32(v, lo, hi);
      const int32_t at = base + f * mem + mem - 1;
      if (bytes == 2) ((int16_t *)state)[at] = (int16_t)v;
      else ((int8_t *)state)[at] = (int8_t)v;
    }
    for (int32_t u = 0; u < n_unit; ++u) {
      uint32_t acc = (uint32_t)p->bias[u];
      for (int32_t r = 0; r < p->rank; ++r) {
        const int32_t f = u * p->rank + r;
        for (int32_t j = 0; j < mem; ++j) {
          const int32_t wt = td_svdf_load(p->w_time, f * mem + j, bytes);
          const int32_t s = td_svdf_load(state, base + f * mem + j, bytes) - p->state_zp;
          acc += (uint32_t)(wt * s);
        }
      }
      const int32_t v = td_mul_by_quantized_multiplier((int32_t)acc, p->output_mult, p->output_shift) + p->output_zp;
      out[b * n_unit + u] = (int8_t)td_clamp_i32(v, INT8_MIN, INT8_MAX);
    }
  }
}
