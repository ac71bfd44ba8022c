/* avg_pool_s8_opt.h - int8 AVERAGE_POOL_2D with a single output pixel whose window starts at the input's
 * corner without padding and spans its width (the global average that ends most CNNs, or its VALID variant
 * that drops the last rows, as DS-CNN's), bit-exact with avg_pool.c's td_avg_pool_s8 (TFLM's reference):
 * per channel the sum of the window's filter_h x filter_w pixels, divided by their number rounding half
 * away from zero, clamped to [act_min, act_max].  The generator picks it where it applies: a fraction of
 * the general kernel's code and none of its window arithmetic. */
#ifndef TD_AVG_POOL_S8_OPT_H
#define TD_AVG_POOL_S8_OPT_H

#include <stdint.h>

typedef struct {
  int32_t batches, in_h, in_w, channels;
  int32_t filter_h, filter_w; /* filter_h <= in_h, filter_w == in_w */
  int32_t act_min, act_max;
} td_global_pool_s8_params;

/* in: batches x in_h x in_w x channels; out: batches x channels */
void td_global_avg_pool_s8(const td_global_pool_s8_params *p, const int8_t *in, int8_t *out);

#endif /* TD_AVG_POOL_S8_OPT_H */
