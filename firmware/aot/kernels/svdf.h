/* svdf.h - SVDF (float32, and TFLM's integer SVDF: int8 input/output with int16 or int8 state and time
 * weights, int32 bias), exact as TFLite Micro's reference kernels.
 *
 * One invoke is one time step: the state (batch x filters x memory, newest column last) shifts left by one
 * element, the feature weights project the input into the newest column, each filter's memory row is dotted
 * with its time weights, rank consecutive filters sum into one unit, the bias is added.  The caller owns
 * the state between invokes (resetting it is the generated code's job). */
#ifndef TD_SVDF_H
#define TD_SVDF_H

#include <stddef.h> /* NULL bias */
#include <stdint.h>

enum { TD_SVDF_ACT_NONE = 0, TD_SVDF_ACT_RELU, TD_SVDF_ACT_RELU_N1_TO_1, TD_SVDF_ACT_RELU6, TD_SVDF_ACT_TANH,
       TD_SVDF_ACT_SIGN_BIT };

typedef struct {
  int32_t batch, n_input, n_filter, n_memory, rank;
  const float *w_feature; /* n_filter x n_input */
  const float *w_time;    /* n_filter x n_memory */
  const float *bias;      /* n_filter / rank, or NULL */
  int32_t activation;     /* TD_SVDF_ACT_* (TFLM's ActivationValFloat) */
} td_svdf_f32_params;

typedef struct {
  int32_t batch, n_input, n_filter, n_memory, rank;
  const int8_t *w_feature; /* n_filter x n_input */
  const void *w_time;      /* n_filter x n_memory, int16_t or int8_t like the state */
  const int32_t *bias;     /* n_filter / rank */
  int32_t state_bytes;     /* 2: int16 state and time weights, 1: int8 */
  int32_t input_zp, state_zp, output_zp;
  int32_t feature_mult, feature_shift; /* input x feature weights -> state */
  int32_t output_mult, output_shift;   /* state x time weights -> output */
} td_svdf_s8_params;

void td_svdf_f32(const td_svdf_f32_params *p, const float *in, float *state, float *out);

/* TFLM applies no fused activation on the integer path (only the int8 saturation); neither does this. */
void td_svdf_s8(const td_svdf_s8_params *p, const int8_t *in, void *state, int8_t *out);

#endif /* TD_SVDF_H */
