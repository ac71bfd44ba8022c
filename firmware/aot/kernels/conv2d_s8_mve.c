/* conv2d_s8_mve.c - int8 CONV_2D as a Helium matrix product (see conv2d_s8_mve.h). */
#include "conv2d_s8_mve.h"

#include <stddef.h>

#include "td_requant_mve.h"

#if defined(TD_HAVE_MVE)

/* len bytes copied from src to dst, or len copies of value when src is NULL: 16 bytes per step, the last
 * step predicated (no byte outside [0, len) is touched). */
static __attribute__((noinline)) void td_mve_put(int8_t *dst, const int8_t *src, int8_t value, int32_t len) {
  int32_t i;
  if (src) {
    for (i = 0; i < len; i += 16) {
      const mve_pred16_t p = vctp8q((uint32_t)(len - i));
      vstrbq_p_s8(dst + i, vldrbq_z_s8(src + i, p), p);
    }
  } else {
    const int8x16_t v = vdupq_n_s8(value);
    for (i = 0; i < len; i += 16) vstrbq_p_s8(dst + i, v, vctp8q((uint32_t)(len - i)));
  }
}

/* The receptive field of output pixel q (batch-major linear index) as n = k_h * k_w * in_c contiguous
 * bytes: one input row read in place (a 1x1 filter without padding). */
const int8_t *td_conv2d_s8_mve_row(const td_conv2d_s8_params *p, const int8_t *input, int32_t q,
                                   int8_t *scratch __attribute__((unused))) {
  const int32_t plane = p->out_h * p->out_w, rest = q % plane;
  return input + (((q / plane) * p->in_h + (rest / p->out_w) * p->stride_h) * p->in_w
                  + (rest % p->out_w) * p->stride_w) * p->in_c;
}

/* The same copied into scratch, with the input zero point wherever the window leaves the input. */
const int8_t *td_conv2d_s8_mve_im2col(const td_conv2d_s8_params *p, const int8_t *input, int32_t q,
                                      int8_t *scratch) {
  const int32_t plane = p->out_h * p->out_w;
  const int32_t b = q / plane, rest = q % plane;
  const int32_t in_y0 = (rest / p->out_w) * p->stride_h - p->pad_h;
  const int32_t in_x0 = (rest % p->out_w) * p->stride_w - p->pad_w;
  const int32_t c = p->in_c, run = p->k_w * c;
  const int8_t *in_b = input + b * p->in_h * p->in_w * c;
  const int8_t zp = (int8_t)(-p->input_offset);
  const int whole_x = p->dil_w == 1 && in_x0 >= 0 && in_x0 + p->k_w <= p->in_w;
  int8_t *row = scratch;
  int32_t ky, kx;
  if (whole_x && run <= 16 && in_y0 >= 0 && in_y0 + p->dil_h * (p->k_h - 1) < p->in_h) {
    /* a whole window of short rows (a first layer's few channels): one predicated copy per row */
    const mve_pred16_t pred = vctp8q((uint32_t)run);
    const int32_t step = p->dil_h * p->in_w * c;
    const int8_t *src = in_b + (in_y0 * p->in_w + in_x0) * c;
    for (ky = 0; ky < p->k_h; ++ky, row += run, src += step) vstrbq_p_s8(row, vldrbq_z_s8(src, pred), pred);
    return scratch;
  }
  for (ky = 0; ky < p->k_h; ++ky, row += run) {
    const int32_t in_y = in_y0 + p->dil_h * ky;
    const int8_t *in_row = in_b + in_y * p->in_w * c;
    if (in_y < 0 || in_y >= p->in_h) {
      td_mve_put(row, NULL, zp, run);
    } else if (whole_x) {
      td_mve_put(row, in_row + in_x0 * c, zp, run);
    } else {
      for (kx = 0; kx < p->k_w; ++kx) {
        const int32_t in_x = in_x0 + p->dil_w * kx;
        td_mve_put(row + kx * c, in_x < 0 || in_x >= p->in_w ? NULL : in_row + in_x * c, zp, c);
      }
    }
  }
  return scratch;
}

/* td_mm2x4_mve's arguments, at the offsets its assembly reads them. */
typedef struct {
  const int8_t *x0, *x1; /* 0, 4: the two pixels' receptive fields (x1 == x0 for a lone last pixel) */
  int8_t *out0, *out1;   /* 8, 12: their outputs (out1 == out0 for a lone last pixel) */
  const int8_t *w;       /* 16: packed filter, first group (on return: past the last one) */
  const int32_t *rq;     /* 20: requantization table, first group (on return: past the last one) */
  int32_t chunks;        /* 24: 16-column chunks per row before the last one */
  int32_t groups;        /* 28: groups of four channels, at least 1 (the filter and table padded to whole groups) */
  int32_t out_off;       /* 32 */
  int32_t act_min;       /* 36 */
  int32_t act_max;       /* 40 */
  uint32_t last_pred;    /* 44: VPR.P0 of the row's last chunk: its columns before n (all 16 in scratch rows) */
  const int32_t *pt;     /* 48: td_mm2x4_pt_mve only: multiplier, left shift, minus right shift, 4 lanes each */
} td_mm2x4_args;

/* Two pixels x `groups` groups of four output channels.  Per group: the eight accumulators start at the
 * folded bias, 16 instructions per 16-column chunk (2 input and 4 filter loads, 8 VMLADAVA), the last chunk
 * with its two input loads predicated by P0 (set once per call: nothing is read past a row read in place; the
 * packed rows hold zeros there), then the
 * two pixels' four channels go to two vectors (through 32 bytes of stack: the lane-pair VMOV's operand
 * order is one that emulators and the architecture text have disagreed on) and are requantized as
 * td_mve_mul_by_qm does.  Hand-scheduled because VMLADAVA accumulates in even registers only and the
 * eight accumulators take all of them (r0-r12 and lr); the odd ones hold the argument block, the two
 * input pointers, the filter and table pointers and the chunk count; the narrowing stores go through r0
 * and r2 (they take low registers), the group count and the output offset stay in the argument block. */
#define TD_MM2X4_ASM(RQ_LOADS) \
      "push {r4-r11, lr}\n" \
      "vpush {d8-d15}\n" \
      "sub sp, sp, #32\n" \
      "mov r1, r0\n" \
      "ldr r0, [r1, #36]\n" \
      "vdup.32 q6, r0\n" \
      "ldr r0, [r1, #40]\n" \
      "vdup.32 q7, r0\n" \
      "ldr r0, [r1, #44]\n" \
      "vmsr p0, r0\n" \
      "ldr r7, [r1, #16]\n" \
      "ldr r9, [r1, #20]\n" \
      "1:\n" \
      "ldrd r0, r2, [r9]\n" \
      "ldrd r4, r6, [r9, #8]\n" \
      "mov r8, r0\n" \
      "mov r10, r2\n" \
      "mov r12, r4\n" \
      "mov lr, r6\n" \
      "ldrd r3, r5, [r1]\n" \
      "ldr r11, [r1, #24]\n" \
      "cmp r11, #0\n" \
      "beq 3f\n" \
      "2:\n" \
      "vldrb.8 q0, [r3], #16\n" \
      "vldrb.8 q1, [r5], #16\n" \
      "vldrb.8 q2, [r7], #16\n" \
      "vmladava.s8 r0, q0, q2\n" \
      "vmladava.s8 r8, q1, q2\n" \
      "vldrb.8 q3, [r7], #16\n" \
      "vmladava.s8 r2, q0, q3\n" \
      "vmladava.s8 r10, q1, q3\n" \
      "vldrb.8 q2, [r7], #16\n" \
      "vmladava.s8 r4, q0, q2\n" \
      "vmladava.s8 r12, q1, q2\n" \
      "vldrb.8 q3, [r7], #16\n" \
      "vmladava.s8 r6, q0, q3\n" \
      "vmladava.s8 lr, q1, q3\n" \
      "subs r11, r11, #1\n" \
      "bne 2b\n" \
      "3:\n" \
      "vpstt\n" \
      "vldrbt.8 q0, [r3]\n" \
      "vldrbt.8 q1, [r5]\n" \
      "vldrb.8 q2, [r7], #16\n" \
      "vmladava.s8 r0, q0, q2\n" \
      "vmladava.s8 r8, q1, q2\n" \
      "vldrb.8 q3, [r7], #16\n" \
      "vmladava.s8 r2, q0, q3\n" \
      "vmladava.s8 r10, q1, q3\n" \
      "vldrb.8 q2, [r7], #16\n" \
      "vmladava.s8 r4, q0, q2\n" \
      "vmladava.s8 r12, q1, q2\n" \
      "vldrb.8 q3, [r7], #16\n" \
      "vmladava.s8 r6, q0, q3\n" \
      "vmladava.s8 lr, q1, q3\n" \
      "strd r0, r2, [sp]\n" \
      "strd r4, r6, [sp, #8]\n" \
      "strd r8, r10, [sp, #16]\n" \
      "strd r12, lr, [sp, #24]\n" \
      "vldrw.32 q0, [sp]\n" \
      "vldrw.32 q1, [sp, #16]\n" \
      RQ_LOADS \
      "vshl.s32 q0, q0, q3\n" \
      "vshl.s32 q1, q1, q3\n" \
      "vqrdmulh.s32 q0, q0, q2\n" \
      "vqrdmulh.s32 q1, q1, q2\n" \
      "vand q2, q0, q4\n" \
      "vand q3, q1, q4\n" \
      "vshr.s32 q2, q2, #31\n" \
      "vshr.s32 q3, q3, #31\n" \
      "vqadd.s32 q0, q0, q2\n" \
      "vqadd.s32 q1, q1, q3\n" \
      "vrshl.s32 q0, q0, q4\n" \
      "vrshl.s32 q1, q1, q4\n" \
      "ldr r0, [r1, #32]\n" \
      "vadd.i32 q0, q0, r0\n" \
      "vadd.i32 q1, q1, r0\n" \
      "vmax.s32 q0, q0, q6\n" \
      "vmax.s32 q1, q1, q6\n" \
      "vmin.s32 q0, q0, q7\n" \
      "vmin.s32 q1, q1, q7\n" \
      "ldrd r0, r2, [r1, #8]\n" \
      "vstrb.32 q0, [r0], #4\n" \
      "vstrb.32 q1, [r2], #4\n" \
      "strd r0, r2, [r1, #8]\n" \
      "ldr r0, [r1, #28]\n" \
      "subs r0, r0, #1\n" \
      "str r0, [r1, #28]\n" \
      "bne 1b\n" \
      "strd r7, r9, [r1, #16]\n" \
      "add sp, sp, #32\n" \
      "vpop {d8-d15}\n" \
      "pop {r4-r11, pc}\n"

__attribute__((naked, noinline)) static void td_mm2x4_mve(td_mm2x4_args *args __attribute__((unused))) {
  /* per-channel table: the group's multipliers and shifts follow its biases */
  __asm__ volatile(TD_MM2X4_ASM("vldrw.32 q2, [r9, #16]\n"
                                "vldrw.32 q3, [r9, #32]\n"
                                "vldrw.32 q4, [r9, #48]\n"
                                "add r9, r9, #64\n"));
}

/* The same for a per-tensor requantization: the table holds only the biases (16 bytes a group), the one
 * multiplier, left shift and minus right shift, four lanes each, wait at args->pt (one load more a group). */
__attribute__((naked, noinline)) static void td_mm2x4_pt_mve(td_mm2x4_args *args __attribute__((unused))) {
  __asm__ volatile(TD_MM2X4_ASM("ldr r0, [r1, #48]\n"
                                "vldrw.32 q2, [r0]\n"
                                "vldrw.32 q3, [r0, #16]\n"
                                "vldrw.32 q4, [r0, #32]\n"
                                "add r9, r9, #16\n"));
}
#undef TD_MM2X4_ASM

typedef void (*td_mm2x4_fn)(td_mm2x4_args *args);

/* Two pixels' outputs (args: their fields, the chunk count, offsets and range): the whole groups of four
 * channels in one call, a partial last group through last[], then its channels out.  Inlined: each firmware
 * links one of its two callers (the convolution driver, or the FC driver of a model without convolutions). */

static inline __attribute__((always_inline)) void td_mve_pair(td_mm2x4_args *args, int8_t *out0, int8_t *out1,
                                                             int32_t out_c, const int8_t *packed,
                                                             const int32_t *rq, td_mm2x4_fn mm) {
  const int32_t full = out_c >> 2, rem = out_c & 3;
  int8_t last[8];
  int32_t i;
  args->out0 = out0;
  args->out1 = out1;
  args->w = packed;
  args->rq = rq;
  if (full) { /* leaves w and rq at the partial group */
    args->groups = full;
    mm(args);
  }
  if (rem) {
    args->out0 = last;
    args->out1 = last + 4;
    args->groups = 1;
    mm(args);
    for (i = 0; i < rem; ++i) {
      out0[4 * full + i] = last[i];
      out1[4 * full + i] = last[4 + i];
    }
  }
}

/* the argument block's per-layer part: rows of n columns (the last chunk's columns: last_cols), the output
 * offset and range */
static void td_mve_args(td_mm2x4_args *args, int32_t n, int32_t last_cols, int32_t out_off, int32_t act_min,
                        int32_t act_max) {
  args->chunks = ((n + 15) >> 4) - 1;
  args->out_off = out_off;
  args->act_min = act_min;
  args->act_max = act_max;
  args->last_pred = (uint32_t)vctp8q((uint32_t)last_cols);
}

/* the driver, out of the inner loops: compiled for size; scratch: op->scratch, or the stack entry's rows */
static __attribute__((noinline, optimize("Os"))) void td_conv2d_mve_run(const td_conv2d_s8_mve_op *op,
                                                                       int8_t *const scratch) {
  /* local copies: stores through int8_t pointers may alias anything, so the compiler would reload every
   * parameter after each output store; locals whose address stays here cannot be aliased */
  union {
    td_conv2d_s8_params params;
    int32_t field[TD_CONV2D_S8_MVE_FIELDS];
  } local;
  const td_conv2d_s8_params *const p = &local.params;
  int32_t i, q;
  for (i = 0; i < TD_CONV2D_S8_MVE_FIELDS; ++i) local.field[i] = op->geom[i];
  {
    const int8_t *const input = op->input;
    const td_conv2d_s8_mve_field_fn field = op->field;
    int8_t *const output = op->output;
    const int32_t n = p->k_h * p->k_w * p->in_c, n16 = (n + 15) & ~15;
    const int32_t pixels = p->batches * p->out_h * p->out_w, out_c = p->out_c;
    td_mm2x4_args args;
    /* scratch rows are n16 long, zero beyond n (against the packed rows' zero columns): a whole last chunk;
     * a row read in place has n - 16 * (chunks - 1) columns in its last one */
    td_mve_args(&args, n, scratch ? 16 : n - (n16 - 16), p->output_offset, p->act_min, p->act_max);
    if (scratch) {
      td_mve_put(scratch + n, NULL, 0, n16 - n);
      td_mve_put(scratch + n16 + n, NULL, 0, n16 - n);
    }
    for (q = 0; q < pixels; q += 2) {
      const int two = q + 1 < pixels;
      int8_t *const out0 = output + q * out_c;
      args.x0 = field(p, input, q, scratch);
      args.x1 = two ? field(p, input, q + 1, scratch ? scratch + n16 : NULL) : args.x0;
      td_mve_pair(&args, out0, two ? out0 + out_c : out0, out_c, op->packed, op->rq, td_mm2x4_mve);
    }
  }
}

void td_conv2d_s8_mve(const td_conv2d_s8_mve_op *op) { td_conv2d_mve_run(op, op->scratch); }

/* im2col rows on the stack instead of the arena (a layer whose scratch would sit at the arena's peak); 8-byte
 * aligned like the stack itself (no realignment: the frame is the rows and the saved registers) */
void td_conv2d_s8_mve_stack(const td_conv2d_s8_mve_op *op) {
  int8_t rows[TD_CONV2D_S8_MVE_STACK_ROWS] __attribute__((aligned(8)));
  td_conv2d_mve_run(op, rows);
}

/* FULLY_CONNECTED: rows read in place; rq per unit (td_mm2x4_mve) or, per tensor, the multiplier and shifts
 * once, then the biases (td_mm2x4_pt_mve). */
static __attribute__((noinline, optimize("Os"))) void td_fc_mve(const td_fully_connected_s8_mve_op *op,
                                                               const int32_t *rq, td_mm2x4_args *args,
                                                               td_mm2x4_fn mm) {
  const int32_t rows = op->rows, n = op->depth, out_c = op->units;
  int32_t r;
  td_mve_args(args, n, n - (((n + 15) & ~15) - 16), op->output_offset, op->act_min, op->act_max);
  for (r = 0; r < rows; r += 2) {
    const int two = r + 1 < rows;
    int8_t *const out0 = op->output + r * out_c;
    args->x0 = op->input + r * n;
    args->x1 = two ? args->x0 + n : args->x0;
    td_mve_pair(args, out0, two ? out0 + out_c : out0, out_c, op->packed, rq, mm);
  }
}

void td_fully_connected_s8_mve(const td_fully_connected_s8_mve_op *op) {
  td_mm2x4_args args;
  td_fc_mve(op, op->rq, &args, td_mm2x4_mve);
}

void td_fully_connected_s8_mve_pt(const td_fully_connected_s8_mve_op *op) {
  td_mm2x4_args args;
  args.pt = op->rq;
  td_fc_mve(op, op->rq + 12, &args, td_mm2x4_pt_mve);
}

#else
typedef int td_conv2d_s8_mve_needs_helium; /* the generator selects this kernel for Helium cores only */
#endif
