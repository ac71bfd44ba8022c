/* prelu.h - PRELU (int8 and float32) with a broadcast alpha, bit-exact with TFLite Micro's reference kernels. */
#ifndef TD_PRELU_H
#define TD_PRELU_H

#include <stdint.h>

#include "add.h" /* td_bcast6 */

/* TFLM's BroadcastPrelu4DSlow: v = x - in_zp; v >= 0: out = v * M1 (in_scale / out_scale); otherwise
 * out = (v * (alpha - alpha_zp)) * M2 (in_scale * alpha_scale / out_scale); plus out_zp, clamped. */
typedef struct {
  int32_t in_offset, alpha_offset, out_offset; /* offsets: -in_zp, -alpha_zp, +out_zp */
  int32_t multiplier_1, shift_1;
  int32_t multiplier_2, shift_2;
} td_prelu_s8_params;

/* a: the input, b: alpha (broadcast by the view).  out may alias the input. */
void td_prelu_s8(const int8_t *in, const int8_t *alpha, int8_t *out, const td_bcast6 *bc, const td_prelu_s8_params *p);
void td_prelu_f32(const float *in, const float *alpha, float *out, const td_bcast6 *bc);

#endif /* TD_PRELU_H */
