/* pool_s8_mve.c - per-channel averages over consecutive pixels on Helium lanes (see pool_s8_mve.h). */
#include "pool_s8_mve.h"

#include "td_requant_mve.h"

#if defined(TD_HAVE_MVE)

/* compiled for size (the per-pixel loop keeps its five vector instructions; -Os spills one predicate) */
#define TD_POOL_MVE_FN __attribute__((optimize("Os")))

/* sums[k] = the sum over `pixels` pixels, `stride` bytes apart, of channel k of x, for the channels
 * k < min(16, left); loads are predicated to those channels, so nothing past the tensor is read. */
static TD_POOL_MVE_FN void td_pool_sums16(const int8_t *x, int32_t pixels, int32_t stride, int32_t left,
                                           int32_t *sums) {
  const mve_pred16_t p0 = vctp16q((uint32_t)left), p1 = vctp16q((uint32_t)(left > 8 ? left - 8 : 0));
  int16_t part[16];
  int32_t i, k;
  for (k = 0; k < 16; ++k) sums[k] = 0;
  while (pixels > 0) {
    const int32_t run = pixels < 256 ? pixels : 256;
    int16x8_t a0 = vdupq_n_s16(0), a1 = a0;
    for (i = 0; i < run; ++i, x += stride) {
      a0 = vaddq_s16(a0, vldrbq_z_s16(x, p0));
      a1 = vaddq_s16(a1, vldrbq_z_s16(x + 8, p1));
    }
    vst1q_s16(part, a0);
    vst1q_s16(part + 8, a1);
    for (k = 0; k < 16; ++k) sums[k] += part[k];
    pixels -= run;
  }
}

TD_POOL_MVE_FN void td_global_avg_pool_s8_mve(const td_global_pool_s8_params *p, const int8_t *in, int8_t *out) {
  /* the window's rows span the input's width: its pixels are consecutive */
  const int32_t channels = p->channels, count = p->filter_h * p->in_w;
  int32_t sums[16], b, c, k;
  for (b = 0; b < p->batches; ++b, in += p->in_h * p->in_w * channels) {
    for (c = 0; c < channels; c += 16) {
      td_pool_sums16(in + c, count, channels, channels - c, sums);
      for (k = 0; k < 16 && c + k < channels; ++k) {
        /* TFLM rounds the average half away from zero with truncating division */
        int32_t acc = sums[k];
        acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
        *out++ = (int8_t)(acc < p->act_min ? p->act_min : (acc > p->act_max ? p->act_max : acc));
      }
    }
  }
}

TD_POOL_MVE_FN void td_mean_hw_s8_mve(const td_mean_hw_s8_mve_params *p, const int8_t *in, int8_t *out) {
  const int32_t channels = p->channels, count = p->pixels;
  /* td_mean_s8: the sum minus in_zp * count (int32 wrap-around as TFLM's int32 arithmetic), then
   * MultiplyByQuantizedMultiplier on four lanes (td_requant_mve.h: exact for every multiplier and shift) */
  const int32x4_t zp_count = vdupq_n_s32((int32_t)((uint32_t)p->in_zp * (uint32_t)count));
  const int32x4_t mult = vdupq_n_s32(p->multiplier), left = vdupq_n_s32(p->shift > 0 ? p->shift : 0);
  const int32x4_t neg_right = vdupq_n_s32(p->shift > 0 ? 0 : p->shift);
  int32_t sums[16], b, c, k;
  for (b = 0; b < p->batches; ++b, in += count * channels) {
    for (c = 0; c < channels; c += 16) {
      td_pool_sums16(in + c, count, channels, channels - c, sums);
      for (k = 0; k < 16 && c + k < channels; k += 4) {
        int32x4_t y = td_mve_mul_by_qm(vsubq_s32(vld1q_s32(sums + k), zp_count), mult, left, neg_right);
        y = vaddq_n_s32(y, p->out_zp);
        y = vminq_s32(vmaxq_s32(y, vdupq_n_s32(-128)), vdupq_n_s32(127));
        vstrbq_p_s32(out + b * channels + c + k, y, vctp32q((uint32_t)(channels - c - k)));
      }
    }
  }
}

#else
typedef int td_pool_s8_mve_needs_helium; /* the generator selects this kernel for Helium cores only */
#endif
