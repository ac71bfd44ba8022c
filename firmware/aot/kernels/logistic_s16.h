/* logistic_s16.h - int16 LOGISTIC (16x8 models and the integer LSTM's gates), bit-exact with TFLite Micro.
 *
 * TFLM's int16 kernel: the input code is rescaled to steps of 1/(3 * 2^12) (so +-2^17 spans +-10.7),
 * x = (in * multiplier + round) >> shift, and sigmoid(|x|) is interpolated linearly in a 256-entry Q0.16
 * table sampled every 2^9 steps (= 1/24) with 9 fraction bits; negative inputs mirror as 1 - sigmoid(|x|).
 * Output Q0.15 (scale 2^-15, zero point 0).  The table is generated at code generation
 * (host/tinydeploy/aot/sigmoid_table.py) and passed in. */
#ifndef TD_LOGISTIC_S16_H
#define TD_LOGISTIC_S16_H

#include <stdint.h>

/* multiplier and shift as TFLM's Eval uses them (its power-of-two case, multiplier 0 at Prepare, already
 * turned into 3 << shift, shift 0 by the generator).  May run in place. */
void td_logistic_s16(const int16_t *in, int16_t *out, int32_t size, int32_t multiplier, int32_t shift,
                     const uint16_t table[256]);

#endif /* TD_LOGISTIC_S16_H */
