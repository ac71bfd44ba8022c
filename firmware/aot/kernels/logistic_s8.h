/* logistic_s8.h - int8 LOGISTIC, bit-exact with TFLite Micro's reference kernel. */
#ifndef TD_LOGISTIC_S8_H
#define TD_LOGISTIC_S8_H

#include <stdint.h>

/* Reference path: input (minus its zero point) beyond +-range_radius saturates; inside, it is scaled by
 * multiplier * 2^left_shift into Q4.27 and evaluated in gemmlowp fixed point.  May run in place. */
void td_logistic_s8(const int8_t *in, int8_t *out, int32_t size, int32_t input_zero_point,
                    int32_t range_radius, int32_t multiplier, int32_t left_shift);

/* Optimized path: out[i] = lut[in[i] + 128], the table holding the reference path's result for every
 * int8 input (built at generation time).  May run in place. */
void td_logistic_s8_lut(const int8_t *in, int8_t *out, int32_t size, const int8_t lut[256]);

#endif /* TD_LOGISTIC_S8_H */
