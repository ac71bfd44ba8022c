/* pool_s8_mve.h - int8 per-channel averages over a run of consecutive pixels for Helium (Cortex-M55): the
 * global AVERAGE_POOL_2D (avg_pool_s8_opt.h's single window) and MEAN over H, W of an NHWC tensor (the
 * global average pool of keras models), bit-exact with td_global_avg_pool_s8 and td_mean_s8 (TFLM's
 * reference kernels).
 *
 * Sixteen channels per step: two widening loads of eight and two int16 adds per pixel, in runs of at most
 * 256 pixels (|sum| <= 128 * 256 fits int16), each run's sums added into int32; then TFLM's arithmetic:
 * AVERAGE_POOL_2D per channel divides by the pixel count rounding half away from zero and clamps to the
 * activation range; MEAN, four channels at a time, subtracts in_zp * count, requantizes
 * (td_requant_mve.h; multiplier and shift with 1 / count folded in, tinydeploy.aot.ops.mean.mean_s8_multiplier)
 * and adds out_zp.
 */
#ifndef TD_POOL_S8_MVE_H
#define TD_POOL_S8_MVE_H

#include <stdint.h>

#include "avg_pool_s8_opt.h"

typedef struct {
  int32_t batches, pixels, channels; /* in: batches x pixels x channels; out: batches x channels */
  int32_t in_zp, out_zp, multiplier, shift;
} td_mean_hw_s8_mve_params;

void td_global_avg_pool_s8_mve(const td_global_pool_s8_params *p, const int8_t *in, int8_t *out);
void td_mean_hw_s8_mve(const td_mean_hw_s8_mve_params *p, const int8_t *in, int8_t *out);

#endif /* TD_POOL_S8_MVE_H */
