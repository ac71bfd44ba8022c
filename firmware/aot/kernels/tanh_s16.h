/* tanh_s16.h - int16 TANH (16x8 models and the integer LSTM's cell), bit-exact with TFLite Micro.
 *
 * TFLM's int16 kernel uses the sigmoid table through tanh(x) = 2 sigmoid(2x) - 1: the input is rescaled
 * as for LOGISTIC (logistic_s16.h), x = (in * multiplier + round) >> shift, but interpolated with 8
 * fraction bits (which doubles the argument), then 2s - 1 in Q0.15 with the sign restored.  The table
 * comes from the generated code (host/tinydeploy/aot/sigmoid_table.py). */
#ifndef TD_TANH_S16_H
#define TD_TANH_S16_H

#include <stdint.h>

/* multiplier and shift as TFLM's Eval uses them (power-of-two case already turned into 3 << shift, 0).
 * May run in place. */
void td_tanh_s16(const int16_t *in, int16_t *out, int32_t size, int32_t multiplier, int32_t shift,
                 const uint16_t table[256]);

#endif /* TD_TANH_S16_H */
