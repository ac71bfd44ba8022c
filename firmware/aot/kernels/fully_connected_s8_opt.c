/* fully_connected_s8_opt.c - optimized int8 fully connected (see the header). */
#include "fully_connected_s8_opt.h"

#include "td_dot_s8.h"

/* Non-Helium cores: four units per input pass over weights packed in groups of four (see the header). */
void td_fully_connected_s8_packed4(const td_fully_connected_s8_params *params, const int8_t *input,
                                   const int8_t *packed, const int32_t *folded_bias, const int32_t *mult,
                                   const int32_t *shift, int8_t *output, const int32_t *rq) {
  /* a local copy: stores through int8_t pointers may alias anything, so the compiler would reload
   * every parameter after each output store; a local whose address stays here cannot be aliased */
  const td_fully_connected_s8_params local = *params;
  const td_fully_connected_s8_params *const p = &local;
  const int32_t n = p->depth, out_c = p->out_c;
  const int32_t lo = p->act_min, hi = p->act_max;
  int32_t b, oc, k;
  for (b = 0; b < p->batches; ++b) {
    const int8_t *row = input + b * n;
    int8_t *out = output + b * out_c;
    for (oc = 0; oc < out_c; oc += 4) {
      const int32_t count = out_c - oc < 4 ? out_c - oc : 4;
      int32_t acc[4];
      acc[0] = folded_bias[oc];
      acc[1] = folded_bias[oc + 1];
      acc[2] = folded_bias[oc + 2];
      acc[3] = folded_bias[oc + 3];
      td_mv1x4_packed_s8(row, packed + oc * n, n, acc);
      if (rq) { /* the table of td_requant_row_s8_fast: one entry per unit, or one for all */
        const int32_t *r = p->per_channel ? rq + 3 * oc : rq;
        const int32_t step = p->per_channel ? 3 : 0;
        for (k = 0; k < count; ++k, r += step) {
          out[oc + k] = (int8_t)td_clamp_i32(td_requant_table(acc[k], r), lo, hi);
        }
      } else {
        for (k = 0; k < count; ++k) {
          const int32_t c = p->per_channel ? oc + k : 0;
          out[oc + k] = td_requant_s8(acc[k], mult[c], shift[c], p->output_offset, lo, hi);
        }
      }
    }
  }
}

/* The common case, specialized at generation time: depth a multiple of 8 and the fast requantization
 * proven -- no tails, no exact-requantization path, about a third of the general kernel's code. */
void td_fully_connected_s8_packed4_fast(const td_fully_connected_s8_params *params, const int8_t *input,
                                        const int8_t *packed, const int32_t *folded_bias, int8_t *output,
                                        const int32_t *rq) {
  const td_fully_connected_s8_params local = *params; /* see td_fully_connected_s8_packed4 */
  const td_fully_connected_s8_params *const p = &local;
  const int32_t n = p->depth, out_c = p->out_c, step = p->per_channel ? 3 : 0;
  int32_t b, oc, k;
  for (b = 0; b < p->batches; ++b, input += n) {
    const int32_t *r = rq;
    for (oc = 0; oc < out_c; oc += 4) {
      const int32_t count = out_c - oc < 4 ? out_c - oc : 4;
      int32_t acc[4];
      memcpy(acc, folded_bias + oc, sizeof acc);
      td_mv1x4_packed8_s8(input, packed + oc * n, n, acc);
      for (k = 0; k < count; ++k, r += step) {
        *output++ = (int8_t)td_clamp_i32(td_requant_table(acc[k], r), p->act_min, p->act_max);
      }
    }
  }
}

#if defined(TD_DOT_MVE)
/* Helium: the plain [out_c][depth] layout, two units per input unpack. */
void td_fully_connected_s8_opt(const td_fully_connected_s8_params *params, const int8_t *input, const int8_t *filter,
                               const int32_t *folded_bias, const int32_t *mult, const int32_t *shift,
                               int8_t *output) {
  const td_fully_connected_s8_params local = *params; /* see td_fully_connected_s8_packed4 */
  const td_fully_connected_s8_params *const p = &local;
  int32_t b, oc;
  for (b = 0; b < p->batches; ++b) {
    const int8_t *row = input + b * p->depth;
    int8_t *out = output + b * p->out_c;
    for (oc = 0; oc + 2 <= p->out_c; oc += 2) {
      const int32_t c0 = p->per_channel ? oc : 0, c1 = p->per_channel ? oc + 1 : 0;
      int32_t acc0 = folded_bias[oc], acc1 = folded_bias[oc + 1];
      td_dot2_s8(row, filter + oc * p->depth, filter + (oc + 1) * p->depth, p->depth, &acc0, &acc1);
      out[oc] = td_requant_s8(acc0, mult[c0], shift[c0], p->output_offset, p->act_min, p->act_max);
      out[oc + 1] = td_requant_s8(acc1, mult[c1], shift[c1], p->output_offset, p->act_min, p->act_max);
    }
    if (oc < p->out_c) {
      const int32_t c0 = p->per_channel ? oc : 0;
      const int32_t acc = td_dot_s8(row, filter + oc * p->depth, p->depth, folded_bias[oc]);
      out[oc] = td_requant_s8(acc, mult[c0], shift[c0], p->output_offset, p->act_min, p->act_max);
    }
  }
}
#endif
