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

#if defined(TD_DOT_DSP)
/* Cores with the DSP extension: the input row widened to int16 once per row (on the stack), as SMLAD
 * operands {e, o} per 4-value group (values 0 and 2, then 1 and 3, as signed halfwords). */
static void td_widen_row(const int8_t *x, int32_t n, uint32_t *x16) {
  const int8_t *const end = x + n;
  for (; x != end; x += 4, x16 += 2) {
    const uint32_t v = td_load4(x);
    x16[0] = td_sxtb16(v);
    x16[1] = td_sxtb16_ror8(v);
  }
}

/* Four results saturated to int8 and packed in a word, unit k in byte k. */
TD_INLINE uint32_t td_pack4_s8(int32_t v0, int32_t v1, int32_t v2, int32_t v3) {
#if defined(TD_HAVE_ACLE)
  /* (v0, v2) and (v1, v3) as halfwords, their low bytes interleaved */
  uint32_t h02, h13;
  __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(h02) : "r"(__ssat(v0, 8)), "r"(__ssat(v2, 8)));
  __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(h13) : "r"(__ssat(v1, 8)), "r"(__ssat(v3, 8)));
  return __uxtb16(h02) | (__uxtb16(h13) << 8);
#else
  return (uint32_t)(uint8_t)td_sat_s8(v0) | (uint32_t)(uint8_t)td_sat_s8(v1) << 8 |
         (uint32_t)(uint8_t)td_sat_s8(v2) << 16 | (uint32_t)(uint8_t)td_sat_s8(v3) << 24;
#endif
}

/* Four int8 results packed in a word (unit k in byte k) clamped to [lo, hi] (each replicated in the four
 * bytes): SSUB8 + SEL twice, where the core has them. */
TD_INLINE uint32_t td_clamp4_s8(uint32_t v, uint32_t lo4, uint32_t hi4) {
#if defined(__ARM_FEATURE_DSP) && !defined(TD_EMULATE_DSP)
  uint32_t t;
  __asm__("ssub8 %[t], %[v], %[lo]\n\t" /* GE: v >= lo, bytewise */
          "sel %[v], %[v], %[lo]\n\t"
          "ssub8 %[t], %[v], %[hi]\n\t" /* GE: v >= hi */
          "sel %[v], %[hi], %[v]\n\t"
          : [v] "+r"(v), [t] "=&r"(t)
          : [lo] "r"(lo4), [hi] "r"(hi4)
          : "cc");
  return v;
#else
  uint32_t r = 0;
  int k;
  for (k = 0; k < 32; k += 8) {
    const int32_t x = (int8_t)(v >> k), l = (int8_t)lo4, h = (int8_t)hi4;
    r |= (uint32_t)(uint8_t)td_clamp_i32(x, l, h) << k;
  }
  return r;
#endif
}

/* One input row (widened, n % 8 == 0) against every unit, four at a time, requantized as each block
 * finishes: per 4-value group 18 instructions for 16 MACs (the input operands loaded ready, the four units'
 * weight words in one LDM), then four SSATs and one bytewise clamp for the four outputs.  Kept out of
 * line so that the assembly has the registers to itself. */
static __attribute__((noinline)) void td_fc_row_x16(const uint32_t *x16, const int8_t *w, const int32_t *bias,
                                                     const int32_t *rq, int8_t *out,
                                                     const td_fully_connected_s8_params *p) {
  const int32_t n = p->depth, out_c = p->out_c, step = p->per_channel ? 3 : 0;
  const uint32_t lo4 = 0x01010101u * (uint8_t)p->act_min, hi4 = 0x01010101u * (uint8_t)p->act_max;
  const int32_t *r = rq; /* one entry per unit, or four copies of one for all (per-tensor weights) */
  int32_t oc;
  for (oc = 0; oc < out_c; oc += 4, bias += 4, out += 4, r += 4 * step) {
    int32_t a0 = bias[0], a1 = bias[1], a2 = bias[2], a3 = bias[3];
#if defined(__ARM_FEATURE_DSP) && !defined(TD_EMULATE_DSP)
    const uint32_t *px = x16;
    const uint32_t *const end = x16 + n / 2;
    uint32_t E, O, V;
    /* the four units' weight words of a group in one LDM: its registers must ascend, hence named */
    register uint32_t W0 __asm__("r8"), W1 __asm__("r9"), W2 __asm__("r10"), W3 __asm__("r11");
#define TD_MV_X16_STEP                           \
  "ldrd %[E], %[O], [%[px]], #8\n\t"              \
  "ldmia %[pw]!, {r8, r9, r10, r11}\n\t"          \
  "sxtb16 %[V], %[W0]\n\t"                        \
  "smlad %[a0], %[E], %[V], %[a0]\n\t"            \
  "sxtb16 %[W0], %[W0], ror #8\n\t"               \
  "smlad %[a0], %[O], %[W0], %[a0]\n\t"           \
  "sxtb16 %[V], %[W1]\n\t"                        \
  "smlad %[a1], %[E], %[V], %[a1]\n\t"            \
  "sxtb16 %[W1], %[W1], ror #8\n\t"               \
  "smlad %[a1], %[O], %[W1], %[a1]\n\t"           \
  "sxtb16 %[V], %[W2]\n\t"                        \
  "smlad %[a2], %[E], %[V], %[a2]\n\t"            \
  "sxtb16 %[W2], %[W2], ror #8\n\t"               \
  "smlad %[a2], %[O], %[W2], %[a2]\n\t"           \
  "sxtb16 %[V], %[W3]\n\t"                        \
  "smlad %[a3], %[E], %[V], %[a3]\n\t"            \
  "sxtb16 %[W3], %[W3], ror #8\n\t"               \
  "smlad %[a3], %[O], %[W3], %[a3]\n\t"
    __asm__ volatile("1:\n\t" TD_MV_X16_STEP TD_MV_X16_STEP "cmp %[px], %[end]\n\tbne 1b\n\t"
                     : [px] "+r"(px), [pw] "+r"(w), [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3),
                       [E] "=&r"(E), [O] "=&r"(O), [V] "=&r"(V), [W0] "=&r"(W0), [W1] "=&r"(W1),
                       [W2] "=&r"(W2), [W3] "=&r"(W3)
                     : [end] "r"(end)
                     : "cc", "memory");
#undef TD_MV_X16_STEP
#else
    int32_t g;
    for (g = 0; g < n / 4; ++g, w += 16) {
      const uint32_t e = x16[2 * g], o = x16[2 * g + 1];
      uint32_t v;
      v = td_load4(w);
      a0 = td_smlad(o, td_sxtb16_ror8(v), td_smlad(e, td_sxtb16(v), a0));
      v = td_load4(w + 4);
      a1 = td_smlad(o, td_sxtb16_ror8(v), td_smlad(e, td_sxtb16(v), a1));
      v = td_load4(w + 8);
      a2 = td_smlad(o, td_sxtb16_ror8(v), td_smlad(e, td_sxtb16(v), a2));
      v = td_load4(w + 12);
      a3 = td_smlad(o, td_sxtb16_ror8(v), td_smlad(e, td_sxtb16(v), a3));
    }
#endif
    {
      const int32_t left = out_c - oc;
      uint32_t v = td_pack4_s8(td_requant_table(a0, r), td_requant_table(a1, r + 3), td_requant_table(a2, r + 6),
                               td_requant_table(a3, r + 9));
      v = td_clamp4_s8(v, lo4, hi4);
      if (left >= 4) {
        memcpy(out, &v, 4); /* one unaligned STR */
      } else {
        memcpy(out, &v, (size_t)left);
      }
    }
  }
}
#endif

/* The common case, specialized at generation time: depth a multiple of 8 and the fast requantization
 * proven -- no tails, no exact-requantization path, about a third of the general kernel's code. */
void td_fully_connected_s8_packed4_fast(const td_fully_connected_s8_params *params, const int8_t *input,
                                        const int8_t *packed, const int32_t *folded_bias, int8_t *output,
                                        const int32_t *rq) {
#if defined(TD_DOT_DSP)
  const int32_t n = params->depth;
  uint32_t x16[n / 2]; /* the row widened to int16 */
  int32_t b;
  for (b = 0; b < params->batches; ++b, input += n, output += params->out_c) {
    td_widen_row(input, n, x16);
    td_fc_row_x16(x16, packed, folded_bias, rq, output, params);
  }
#else
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
#endif
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
