/* depthwise_conv2d_s8_mve.c - int8 DEPTHWISE_CONV_2D on Helium lanes (see depthwise_conv2d_s8_mve.h). */
#include "depthwise_conv2d_s8_mve.h"

#include "td_requant_mve.h"

#if defined(TD_HAVE_MVE)

#define TD_DW_INLINE static inline __attribute__((always_inline))
#define TD_DW_RQ 40 /* int32 per channel group in rq */

/* The two int32 halves of a group's accumulator: even channels (0, 2, 4, 6) and odd ones (1, 3, 5, 7),
 * as VMULLB / VMULLT give them. */
typedef struct {
  int32x4_t even, odd;
} td_dw_acc;

/* [first, end) of the filter taps t with 0 <= origin + dilation * t < size */
static __attribute__((noinline)) void td_dw_clip(int32_t origin, int32_t dilation, int32_t taps, int32_t size,
                                                 int32_t *first, int32_t *end) {
  int32_t lo = 0, hi = taps;
  if (origin < 0) lo = (-origin + dilation - 1) / dilation;
  if (origin + dilation * (taps - 1) >= size) hi = origin >= size ? 0 : (size - 1 - origin) / dilation + 1;
  *first = lo;
  *end = hi > lo ? hi : lo;
}

/* Eight channels' inputs widened to int16; `partial` (a constant at every call) predicates the load to the
 * channels that exist, so that nothing past the tensor is read. */
TD_DW_INLINE int16x8_t td_dw_load(const int8_t *x, int partial, mve_pred16_t pred) {
  return partial ? vldrbq_z_s16(x, pred) : vldrbq_s16(x);
}

/* acc += x * w on eight channels: two widening multiplies (even, odd lanes), two adds. */
TD_DW_INLINE td_dw_acc td_dw_mla(td_dw_acc acc, int16x8_t x, const int16_t *w) {
  const int16x8_t f = vldrhq_s16(w);
  acc.even = vaddq_s32(acc.even, vmullbq_int_s16(x, f));
  acc.odd = vaddq_s32(acc.odd, vmulltq_int_s16(x, f));
  return acc;
}

/* acc + the taps [ky0, ky1) x [kx0, kx1) of one channel group; x: the group's input at tap (ky0, kx0),
 * w: its packed filter (all taps).  `whole` (constant at every call): raw inputs against the folded bias,
 * else inputs + offset (x + offset fits int16). */
TD_DW_INLINE td_dw_acc td_dw_taps(td_dw_acc acc, const int8_t *x, const int16_t *w, int32_t ky0, int32_t ky1,
                                  int32_t kx0, int32_t kx1, int32_t k_w, int32_t row_step, int32_t col_step,
                                  int32_t offset, int whole, int partial, mve_pred16_t pred) {
  int32_t ky, kx;
  for (ky = ky0; ky < ky1; ++ky, x += row_step) {
    const int8_t *xr = x;
    const int16_t *wr = w + (ky * k_w + kx0) * 8;
    for (kx = kx0; kx < kx1; ++kx, xr += col_step, wr += 8) {
      int16x8_t v = td_dw_load(xr, partial, pred);
      if (!whole) v = vaddq_n_s16(v, (int16_t)offset);
      acc = td_dw_mla(acc, v, wr);
    }
  }
  return acc;
}

/* One output pixel, channel groups [0, groups): x the input at tap (ky0, kx0) of channel 0.  One copy: its hot
 * path is whole windows of whole groups (raw inputs, unpredicated loads); windows that meet the padding and a
 * partial last group share one predicated loop that adds the offset (0 for a whole window). */
void td_depthwise_conv2d_s8_mve_pixel(const td_depthwise_conv2d_s8_params *p, const int8_t *x, const int16_t *packed,
                                      const int32_t *rq, int8_t *out, int32_t ky0, int32_t ky1, int32_t kx0,
                                      int32_t kx1, int32_t groups, uint32_t last_pred) {
  const int32_t taps8 = p->k_h * p->k_w * 8, row_step = p->dil_h * p->in_w * p->in_c, col_step = p->dil_w * p->in_c;
  const int32x4_t act_min = vdupq_n_s32(p->act_min), act_max = vdupq_n_s32(p->act_max);
  const int whole = ky0 == 0 && ky1 == p->k_h && kx0 == 0 && kx1 == p->k_w;
  const int32_t offset = whole ? 0 : p->input_offset;
  int32_t g;
  for (g = 0; g < groups; ++g, x += 8, packed += taps8, rq += TD_DW_RQ, out += 8) {
    const mve_pred16_t pred = g + 1 == groups ? (mve_pred16_t)last_pred : 0xFFFF;
    td_dw_acc acc;
    int16x8_t y;
    acc.even = vldrwq_s32(rq + (whole ? 0 : 4));
    acc.odd = vldrwq_s32(rq + 20 + (whole ? 0 : 4));
    if (whole && pred == 0xFFFF) {
      acc = td_dw_taps(acc, x, packed, ky0, ky1, kx0, kx1, p->k_w, row_step, col_step, 0, 1, 0, pred);
    } else {
      acc = td_dw_taps(acc, x, packed, ky0, ky1, kx0, kx1, p->k_w, row_step, col_step, offset, 0, 1, pred);
    }
    /* even channels to the even halfwords, odd ones to the odd: back in channel order */
    y = vmovnbq_s32(vdupq_n_s16(0), td_mve_requant_s8(acc.even, rq + 8, p->output_offset, act_min, act_max));
    y = vmovntq_s32(y, td_mve_requant_s8(acc.odd, rq + 28, p->output_offset, act_min, act_max));
    vstrbq_p_s16(out, y, pred);
  }
}

/* ---- 3x3 filters: every window through nine tap pointers (td_dw9_mve) ---- */

/* td_dw9_mve's arguments, at the offsets its assembly reads them. */
typedef struct {
  const int8_t *tap[9]; /* 0: each tap's input at channel 0, or zp_row where the tap is in the padding */
  const int16_t *w;     /* 36: packed filter */
  const int32_t *rq;    /* 40 */
  int8_t *out;          /* 44 */
  int32_t groups;       /* 48: full groups of eight channels, at least 1 */
  int32_t out_off;      /* 52 */
  int32_t act_min;      /* 56 */
  int32_t act_max;      /* 60 */
  int32_t npix;         /* 64: pixels in a row, at least 1; more than 1 only when groups covers every channel */
  int32_t adv;          /* 68: bytes each tap pointer moves from one pixel's last group to the next pixel */
} td_dw9_args;

/* One output pixel of a 3x3 depthwise convolution, `groups` whole groups of eight channels, against the
 * folded bias (a tap in the padding reads the zero point: its x + input_offset is 0, as in the reference).
 * Per group: 9 x (VLDRB.S16, VLDRH, VMULLB, VMULLT, 2 VADD), the even and odd halves requantized as
 * td_mve_mul_by_qm does, narrowed back into channel order (VMOVNB/VMOVNT) and stored.  Hand-scheduled so
 * that the nine tap pointers, the filter, table and output pointers and the count stay in the 14 core
 * registers; the widening loads and the narrowing store take low registers only: taps 0-6 live in r1-r7,
 * taps 7-8 and the output pointer go through r0.  The output offset, the filter and table starts, the
 * counts and the pixel step wait on the stack.  `npix` pixels along a row when every window is whole and
 * groups covers every channel: each tap pointer then moves on by `adv` (stride * channels - channels). */
__attribute__((naked, noinline)) static void td_dw9_mve(const td_dw9_args *args __attribute__((unused))) {
  __asm__ volatile(
      "push {r4-r11, lr}\n"
      "vpush {d8-d15}\n"
      "sub sp, sp, #24\n"
      "ldr r1, [r0, #52]\n"
      "str r1, [sp]\n"
      "ldr r1, [r0, #36]\n"
      "str r1, [sp, #4]\n"
      "ldr r1, [r0, #40]\n"
      "str r1, [sp, #8]\n"
      "ldr r1, [r0, #48]\n"
      "str r1, [sp, #12]\n"
      "ldr r1, [r0, #64]\n"
      "str r1, [sp, #16]\n"
      "ldr r1, [r0, #68]\n"
      "str r1, [sp, #20]\n"
      "ldr r1, [r0, #56]\n"
      "vdup.32 q6, r1\n"
      "ldr r1, [r0, #60]\n"
      "vdup.32 q7, r1\n"
      "ldr r8, [r0, #28]\n"
      "ldr r9, [r0, #32]\n"
      "ldr r12, [r0, #44]\n"
      "ldm r0, {r1-r7}\n"
      "0:\n"
      "ldr r10, [sp, #4]\n"
      "ldr r11, [sp, #8]\n"
      "ldr lr, [sp, #12]\n"
      "1:\n"
      "vldrw.32 q0, [r11]\n"
      "vldrw.32 q1, [r11, #80]\n"
#define TD_DW9_MLA                    \
      "vldrh.16 q3, [r10], #16\n"     \
      "vmullb.s16 q4, q2, q3\n"       \
      "vmullt.s16 q5, q2, q3\n"       \
      "vadd.i32 q0, q0, q4\n"         \
      "vadd.i32 q1, q1, q5\n"
#define TD_DW9_TAP(R) "vldrb.s16 q2, [" R "], #8\n" TD_DW9_MLA
#define TD_DW9_TAP_HI(R) "mov r0, " R "\n" "vldrb.s16 q2, [r0]\n" "add " R ", " R ", #8\n" TD_DW9_MLA
      TD_DW9_TAP("r1") TD_DW9_TAP("r2") TD_DW9_TAP("r3") TD_DW9_TAP("r4") TD_DW9_TAP("r5")
      TD_DW9_TAP("r6") TD_DW9_TAP("r7") TD_DW9_TAP_HI("r8") TD_DW9_TAP_HI("r9")
#undef TD_DW9_TAP_HI
#undef TD_DW9_TAP
#undef TD_DW9_MLA
      "ldr r0, [sp]\n"
#define TD_DW9_REQUANT(Q, OFF_MULT, OFF_LEFT, OFF_RIGHT)  \
      "vldrw.32 q2, [r11, #" OFF_MULT "]\n"               \
      "vldrw.32 q3, [r11, #" OFF_LEFT "]\n"               \
      "vldrw.32 q4, [r11, #" OFF_RIGHT "]\n"              \
      "vshl.s32 " Q ", " Q ", q3\n"                       \
      "vqrdmulh.s32 " Q ", " Q ", q2\n"                   \
      "vand q5, " Q ", q4\n"                              \
      "vshr.s32 q5, q5, #31\n"                            \
      "vqadd.s32 " Q ", " Q ", q5\n"                      \
      "vrshl.s32 " Q ", " Q ", q4\n"                      \
      "vadd.i32 " Q ", " Q ", r0\n"                       \
      "vmax.s32 " Q ", " Q ", q6\n"                       \
      "vmin.s32 " Q ", " Q ", q7\n"
      TD_DW9_REQUANT("q0", "32", "48", "64")
      TD_DW9_REQUANT("q1", "112", "128", "144")
#undef TD_DW9_REQUANT
      "vmovnb.i32 q2, q0\n"
      "vmovnt.i32 q2, q1\n"
      "mov r0, r12\n"
      "vstrb.16 q2, [r0]\n"
      "add r12, r12, #8\n"
      "add r11, r11, #160\n"
      "subs lr, lr, #1\n"
      "bne 1b\n"
      "ldr r0, [sp, #20]\n"
      "add r1, r1, r0\n"
      "add r2, r2, r0\n"
      "add r3, r3, r0\n"
      "add r4, r4, r0\n"
      "add r5, r5, r0\n"
      "add r6, r6, r0\n"
      "add r7, r7, r0\n"
      "add r8, r8, r0\n"
      "add r9, r9, r0\n"
      "ldr r0, [sp, #16]\n"
      "subs r0, r0, #1\n"
      "str r0, [sp, #16]\n"
      "bne 0b\n"
      "add sp, sp, #24\n"
      "vpop {d8-d15}\n"
      "pop {r4-r11, pc}\n");
}

/* the driver, out of the inner loops: compiled for size */
__attribute__((optimize("Os"))) void td_depthwise_conv2d_s8_mve(const td_depthwise_conv2d_s8_mve_op *op) {
  /* a local copy: stores through int8_t pointers may alias anything (see conv2d_s8_mve.c) */
  union {
    td_depthwise_conv2d_s8_params params;
    int32_t field[TD_DEPTHWISE_CONV2D_S8_MVE_FIELDS];
  } local;
  const td_depthwise_conv2d_s8_params *const p = &local.params;
  int32_t i, b, oy, ox;
  for (i = 0; i < TD_DEPTHWISE_CONV2D_S8_MVE_FIELDS; ++i) local.field[i] = op->geom[i];
  {
    const int8_t *const input = op->input;
    int8_t *out = op->output;
    const int32_t c = p->in_c, groups = (c + 7) >> 3;
    /* 3x3 filters: the whole groups of every pixel through td_dw9_mve (nine tap pointers, those in the
     * padding at zp_row), a partial last group through op->rest; other filters: op->rest alone */
    const int32_t full = op->zp_row ? c >> 3 : 0;
    const int16_t *const rest_w = op->packed + full * p->k_h * p->k_w * 8;
    const int32_t *const rest_rq = op->rq + full * TD_DW_RQ;
    const mve_pred16_t last_pred = vctp16q((uint32_t)(c - 8 * (groups - 1)));
    td_dw9_args args;
    args.w = op->packed;
    args.rq = op->rq;
    args.groups = full;
    args.out_off = p->output_offset;
    args.act_min = p->act_min;
    args.act_max = p->act_max;
    args.adv = p->stride_w * c - 8 * full;
    for (b = 0; b < p->batches; ++b) {
      const int8_t *in_b = input + b * p->in_h * p->in_w * c;
      for (oy = 0; oy < p->out_h; ++oy) {
        const int32_t in_y0 = oy * p->stride_h - p->pad_h;
        int32_t ky0, ky1;
        td_dw_clip(in_y0, p->dil_h, p->k_h, p->in_h, &ky0, &ky1);
        for (ox = 0; ox < p->out_w;) {
          const int32_t in_x0 = ox * p->stride_w - p->pad_w;
          int32_t kx0, kx1, run = 1;
          int inside;
          td_dw_clip(in_x0, p->dil_w, p->k_w, p->in_w, &kx0, &kx1);
          inside = ky1 > ky0 && kx1 > kx0;
          if (full) {
            int32_t ky, kx;
            if (full == groups && ky0 == 0 && ky1 == 3 && kx0 == 0 && kx1 == 3) {
              /* the run of whole windows along the row: one call */
              while (ox + run < p->out_w && (ox + run) * p->stride_w - p->pad_w + 2 * p->dil_w < p->in_w) ++run;
            }
            for (ky = 0; ky < 3; ++ky) {
              const int8_t *row = in_b + (in_y0 + p->dil_h * ky) * p->in_w * c;
              for (kx = 0; kx < 3; ++kx) {
                const int tap_in = ky >= ky0 && ky < ky1 && kx >= kx0 && kx < kx1;
                args.tap[ky * 3 + kx] = tap_in ? row + (in_x0 + p->dil_w * kx) * c : op->zp_row;
              }
            }
            args.npix = run;
            args.out = out;
            td_dw9_mve(&args);
          }
          if (full < groups) { /* a window with no tap inside the input: the bias alone */
            const int8_t *x = in_b + ((in_y0 + p->dil_h * ky0) * p->in_w + in_x0 + p->dil_w * kx0) * c + 8 * full;
            op->rest(p, inside ? x : in_b, rest_w, rest_rq, out + 8 * full, inside ? ky0 : 0, inside ? ky1 : 0, kx0,
                     kx1, groups - full, last_pred);
          }
          ox += run;
          out += run * c;
        }
      }
    }
  }
}

#else
typedef int td_depthwise_conv2d_s8_mve_needs_helium; /* the generator selects this kernel for Helium cores only */
#endif
