/* fully_connected_s8_opt.h - optimized int8 FULLY_CONNECTED (symmetric weights), bit-exact with the reference.
 * folded_bias[oc] = bias[oc] + input_offset * sum(filter[oc]) at build time; the inner loop is a plain int8
 * dot product, two units per input unpack. */
#ifndef TD_FULLY_CONNECTED_S8_OPT_H
#define TD_FULLY_CONNECTED_S8_OPT_H

#include <stdint.h>

#include "fully_connected_s8.h"

void td_fully_connected_s8_opt(const td_fully_connected_s8_params *p, const int8_t *input, const int8_t *filter,
                               const int32_t *folded_bias, const int32_t *mult, const int32_t *shift,
                               int8_t *output);

#endif /* TD_FULLY_CONNECTED_S8_OPT_H */
