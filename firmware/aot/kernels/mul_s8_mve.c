/* mul_s8_mve.c - int8 MUL on Helium lanes (see mul_s8_mve.h). */
#include "mul_s8_mve.h"

#include "td_requant_mve.h"

#if defined(TD_HAVE_MVE)

typedef struct {
  int32_t a_off, b_off, left, mult, neg_right, sign_shift, out_off, lo, hi;
} td_mul_mve_k;

/* Four outputs; `a_dense`, `b_dense` and `partial` are constants at every call (a single value is b_const,
 * already offset; `partial` predicates the loads and the store to the lanes below n). */
static inline __attribute__((always_inline)) void td_mul_mve_step(const int8_t *a, int a_dense, int32_t a_const,
                                                                 const int8_t *b, int b_dense, int32_t b_const,
                                                                 int8_t *out, const td_mul_mve_k *k, int partial,
                                                                 mve_pred16_t pred) {
  int32x4_t prod, h;
  if (a_dense && b_dense) {
    const int32x4_t x = vaddq_n_s32(partial ? vldrbq_z_s32(a, pred) : vldrbq_s32(a), k->a_off);
    const int32x4_t y = vaddq_n_s32(partial ? vldrbq_z_s32(b, pred) : vldrbq_s32(b), k->b_off);
    prod = vmulq_s32(x, y);
  } else if (a_dense) {
    prod = vmulq_n_s32(vaddq_n_s32(partial ? vldrbq_z_s32(a, pred) : vldrbq_s32(a), k->a_off), b_const);
  } else if (b_dense) {
    prod = vmulq_n_s32(vaddq_n_s32(partial ? vldrbq_z_s32(b, pred) : vldrbq_s32(b), k->b_off), a_const);
  } else {
    prod = vdupq_n_s32(a_const * b_const);
  }
  h = vqrdmulhq_n_s32(vshlq_r_s32(prod, k->left), k->mult);
  h = vqsubq_s32(h, vreinterpretq_s32_u32(vshlq_r_u32(vreinterpretq_u32_s32(h), k->sign_shift)));
  h = vaddq_n_s32(vrshlq_n_s32(h, k->neg_right), k->out_off);
  h = vminq_s32(vmaxq_s32(h, vdupq_n_s32(k->lo)), vdupq_n_s32(k->hi));
  if (partial) {
    vstrbq_p_s32(out, h, pred);
  } else {
    vstrbq_s32(out, h);
  }
}

/* td_mul_s8_mve's loop over a dense a and a dense b or (b_dense 0, a constant at each call) a single value b
 * (b_const: it plus its offset). */
static inline __attribute__((always_inline)) void td_mul_s8_mve_loop(const int8_t *a, const int8_t *b, int b_dense,
                                                                   int32_t b_const, int8_t *out, int32_t n,
                                                                   const td_mul_mve_k *k) {
  int32_t i;
  for (i = 0; i + 4 <= n; i += 4) {
    td_mul_mve_step(a + i, 1, 0, b + i, b_dense, b_const, out + i, k, 0, 0xFFFF);
  }
  if (i < n) {
    td_mul_mve_step(a + i, 1, 0, b + i, b_dense, b_const, out + i, k, 1, vctp32q((uint32_t)(n - i)));
  }
}

void td_mul_s8_mve(const int8_t *a, int32_t a_step, const int8_t *b, int32_t b_step, int8_t *out, int32_t n,
                   const td_mul_s8_params *p) {
  td_mul_mve_k k;
  int32_t i;
  k.a_off = p->a_offset;
  k.b_off = p->b_offset;
  k.left = p->out_shift > 0 ? p->out_shift : 0;
  k.mult = p->out_multiplier;
  k.neg_right = p->out_shift > 0 ? 0 : p->out_shift;
  k.sign_shift = k.neg_right < 0 ? -31 : -32; /* VSHL.U32 by it: 1 in negative lanes, or 0 everywhere */
  k.out_off = p->out_offset;
  k.lo = p->act_min;
  k.hi = p->act_max;
  if (a_step && b_step) {
    td_mul_s8_mve_loop(a, b, 1, 0, out, n, &k);
    return;
  }
  /* MUL commutes: the dense operand (or, both single values, b) on the a side; two single values make one
   * output value, repeated */
  if (!a_step) {
    const int8_t *t = a;
    a = b;
    b = t;
    k.a_off = p->b_offset;
    k.b_off = p->a_offset;
  }
  td_mul_s8_mve_loop(a, b, 0, b[0] + k.b_off, out, a_step || b_step ? n : 1, &k);
  for (i = a_step || b_step ? n : 1; i < n; ++i) out[i] = out[0];
}

#else
typedef int td_mul_s8_mve_needs_helium; /* the generator selects this kernel for Helium cores only */
#endif
