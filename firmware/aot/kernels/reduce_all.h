/* reduce_all.h - REDUCE_ALL over any axes of a bool tensor (bool only, as TFLite Micro): each output starts
 * true and is and-ed with its inputs. */
#ifndef TD_REDUCE_ALL_H
#define TD_REDUCE_ALL_H

#include <stdint.h>

#include "mean.h" /* td_mean_params: the reduction geometry (the quantization fields are unused) */

/* out must not overlap in. */
void td_reduce_all_b(const uint8_t *in, uint8_t *out, const td_mean_params *p);

#endif /* TD_REDUCE_ALL_H */
