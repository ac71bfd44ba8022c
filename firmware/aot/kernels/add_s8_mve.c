/* add_s8_mve.c - int8 ADD on Helium lanes (see add_s8_mve.h). */
#include "add_s8_mve.h"

#include "td_requant_mve.h"

#if defined(TD_HAVE_MVE)

/* One rescaling on four lanes: RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x, mult), e), e =
 * -neg_e >= 0: VRSHL (half up) of h - 1 in negative lanes when e > 0.  sign_shift is -31 when e > 0 (VSHL.U32
 * by it leaves 1 in negative lanes, 0 elsewhere) and -32 when e == 0 (0 everywhere). */
static inline __attribute__((always_inline)) int32x4_t td_add_rescale(int32x4_t x, int32_t mult, int32_t neg_e,
                                                                     int32_t sign_shift) {
  const int32x4_t h = vqrdmulhq_n_s32(x, mult);
  return vrshlq_n_s32(vsubq_s32(h, vreinterpretq_s32_u32(vshlq_r_u32(vreinterpretq_u32_s32(h), sign_shift))),
                      neg_e);
}

/* The same for e > 0 (the output's rescaling: the generator checks its shift is negative). */
static inline __attribute__((always_inline)) int32x4_t td_add_rescale_pos(int32x4_t x, int32_t mult, int32_t neg_e) {
  const int32x4_t h = vqrdmulhq_n_s32(x, mult);
  return vrshlq_n_s32(vsubq_s32(h, vreinterpretq_s32_u32(vshrq_n_u32(vreinterpretq_u32_s32(h), 31))), neg_e);
}

typedef struct {
  int32x4_t a_off, b_off, o_off, lo, hi;
  int32_t a_mult, a_ne, a_ss, b_mult, b_ne, b_ss, o_mult, o_ne, ls;
} td_add_mve_k;

/* Four outputs from a[i..], b[i..] (or the single values' rescaled vectors a_const, b_const); `partial`
 * (constant at every call) predicates the loads and the store to the lanes below n. */
static inline __attribute__((always_inline)) void td_add_mve_step(const int8_t *a, int a_dense, int32x4_t a_const,
                                                                 const int8_t *b, int b_dense, int32x4_t b_const,
                                                                 int8_t *out, const td_add_mve_k *k, int partial,
                                                                 mve_pred16_t pred) {
  int32x4_t x = a_const, y = b_const, r;
  if (a_dense) {
    x = partial ? vldrbq_z_s32(a, pred) : vldrbq_s32(a);
    x = td_add_rescale(vshlq_r_s32(vaddq_s32(x, k->a_off), k->ls), k->a_mult, k->a_ne, k->a_ss);
  }
  if (b_dense) {
    y = partial ? vldrbq_z_s32(b, pred) : vldrbq_s32(b);
    y = td_add_rescale(vshlq_r_s32(vaddq_s32(y, k->b_off), k->ls), k->b_mult, k->b_ne, k->b_ss);
  }
  r = vaddq_s32(td_add_rescale_pos(vaddq_s32(x, y), k->o_mult, k->o_ne), k->o_off);
  r = vminq_s32(vmaxq_s32(r, k->lo), k->hi);
  if (partial) {
    vstrbq_p_s32(out, r, pred);
  } else {
    vstrbq_s32(out, r);
  }
}

/* td_add_s8_mve's constants; swap: b's offset and rescaling go to the a side and a's to the b side. */
static void td_add_mve_setup(td_add_mve_k *k, const td_add_s8_params *p, int swap) {
  const int32_t a_off = swap ? p->b_offset : p->a_offset, b_off = swap ? p->a_offset : p->b_offset;
  const int32_t a_shift = swap ? p->b_shift : p->a_shift, b_shift = swap ? p->a_shift : p->b_shift;
  k->a_off = vdupq_n_s32(a_off);
  k->b_off = vdupq_n_s32(b_off);
  k->o_off = vdupq_n_s32(p->out_offset);
  k->lo = vdupq_n_s32(p->act_min);
  k->hi = vdupq_n_s32(p->act_max);
  k->a_mult = swap ? p->b_multiplier : p->a_multiplier;
  k->a_ne = a_shift;
  k->b_mult = swap ? p->a_multiplier : p->b_multiplier;
  k->b_ne = b_shift;
  k->a_ss = a_shift < 0 ? -31 : -32;
  k->b_ss = b_shift < 0 ? -31 : -32;
  k->o_mult = p->out_multiplier;
  k->o_ne = p->out_shift;
  k->ls = p->left_shift;
}

/* td_add_s8_mve's loop over a dense a and a dense b or (b_dense 0, a constant at each call) a single value
 * b, whose rescaled vector is computed once, outside. */
static inline __attribute__((always_inline)) void td_add_s8_mve_loop(const int8_t *a, const int8_t *b, int b_dense,
                                                                   int8_t *out, int32_t n, const td_add_mve_k *k) {
  int32x4_t b_const = vdupq_n_s32(0);
  int32_t i;
  if (!b_dense) {
    b_const = td_add_rescale(vshlq_r_s32(vaddq_s32(vdupq_n_s32(b[0]), k->b_off), k->ls), k->b_mult, k->b_ne, k->b_ss);
  }
  for (i = 0; i + 4 <= n; i += 4) {
    td_add_mve_step(a + i, 1, b_const, b + i, b_dense, b_const, out + i, k, 0, 0xFFFF);
  }
  if (i < n) {
    td_add_mve_step(a + i, 1, b_const, b + i, b_dense, b_const, out + i, k, 1, vctp32q((uint32_t)(n - i)));
  }
}

void td_add_s8_mve(const int8_t *a, int32_t a_step, const int8_t *b, int32_t b_step, int8_t *out, int32_t n,
                   const td_add_s8_params *p) {
  td_add_mve_k k;
  int32_t i;
  if (a_step && b_step) {
    td_add_mve_setup(&k, p, 0);
    td_add_s8_mve_loop(a, b, 1, out, n, &k);
    return;
  }
  /* ADD commutes: the dense operand (or, both single values, b) on the a side; two single values make one
   * output value, repeated */
  td_add_mve_setup(&k, p, !a_step);
  td_add_s8_mve_loop(a_step ? a : b, a_step ? b : a, 0, out, a_step || b_step ? n : 1, &k);
  for (i = a_step || b_step ? n : 1; i < n; ++i) out[i] = out[0];
}

#else
typedef int td_add_s8_mve_needs_helium; /* the generator selects this kernel for Helium cores only */
#endif
