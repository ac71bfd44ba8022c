/* leaky_relu_s16.h - int16 LEAKY_RELU, bit-exact with TFLite Micro's QuantizeLeakyRelu<int16_t>: the int8
 * arithmetic (td_leaky_relu_s8_params, leaky_relu.h) on int16 codes, clamped to int16. */
#ifndef TD_LEAKY_RELU_S16_H
#define TD_LEAKY_RELU_S16_H

#include <stdint.h>

#include "leaky_relu.h" /* td_leaky_relu_s8_params */

/* out may equal in. */
void td_leaky_relu_s16(const int16_t *in, int16_t *out, int32_t n, const td_leaky_relu_s8_params *p);

#endif /* TD_LEAKY_RELU_S16_H */
