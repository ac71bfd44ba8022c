"""CONV_2D lowering: int8 per-channel (TFLM reference semantics), 16x8 (int16x8.py) and float32."""

from __future__ import annotations

import numpy as np

from tinydeploy.aot.lowering import (
    LoweringContext,
    activation_range_f32,
    compute_padding,
    lowering,
    quant_of,
)
from tinydeploy.aot.ops.int16x8 import lower_conv2d_s16
from tinydeploy.aot.quant import activation_range_s8, per_channel_multipliers
from tinydeploy.model.graph import Operator, Tensor


def conv_geometry(op: Operator, ctx: LoweringContext, x: Tensor, w: Tensor, y: Tensor,
                  filter_hw: tuple[int, int]) -> dict[str, int]:
    """Shapes, strides, dilations and TFLM's padding for a 2-D convolution-like op (NHWC)."""
    o = op.options
    if len(x.shape) != 4 or len(y.shape) != 4:
        raise ctx.unsupported(op, f"expects 4-D input and output, got {list(x.shape)} -> {list(y.shape)}")
    stride_h, stride_w = o.get("stride_h", 1), o.get("stride_w", 1)
    dil_h, dil_w = o.get("dilation_h_factor", 1), o.get("dilation_w_factor", 1)
    padding = o.get("padding", "VALID")
    if padding not in ("SAME", "VALID"):
        raise ctx.unsupported(op, f"padding {padding}")
    if min(stride_h, stride_w, dil_h, dil_w) < 1:
        raise ctx.unsupported(op, "stride and dilation must be at least 1")
    k_h, k_w = filter_hw
    out_h, pad_h, _ = compute_padding(padding, x.shape[1], k_h, stride_h, dil_h)
    out_w, pad_w, _ = compute_padding(padding, x.shape[2], k_w, stride_w, dil_w)
    if (out_h, out_w) != (y.shape[1], y.shape[2]):
        raise ctx.unsupported(op, f"output shape {list(y.shape)} does not match the computed {out_h}x{out_w}")
    return {
        "batches": x.shape[0], "in_h": x.shape[1], "in_w": x.shape[2], "in_c": x.shape[3],
        "out_h": out_h, "out_w": out_w, "out_c": y.shape[3], "k_h": k_h, "k_w": k_w,
        "stride_h": stride_h, "stride_w": stride_w, "dil_h": dil_h, "dil_w": dil_w, "pad_h": pad_h, "pad_w": pad_w,
    }


def int8_requant(op: Operator, ctx: LoweringContext, x: Tensor, w: Tensor, y: Tensor, channels: int
                 ) -> tuple[str, str, dict[str, int]]:
    """Per-channel multipliers/shifts as TFLM computes them, and the offsets/activation range."""
    if w.quant is None or not w.quant.scale.size:
        raise ctx.unsupported(op, f"filter '{w.name}' is not quantized")
    if np.any(w.quant.zero_point != 0):
        raise ctx.unsupported(op, f"filter '{w.name}' has a non-zero zero point")
    in_scale, in_zp = quant_of(x)
    out_scale, out_zp = quant_of(y)
    scales = w.quant.scale if w.quant.scale.size > 1 else np.repeat(w.quant.scale, channels)
    if scales.size != channels:
        raise ctx.unsupported(op, f"filter has {scales.size} scales for {channels} output channels")
    mult, shift = per_channel_multipliers(in_scale, scales, out_scale)
    act = op.options.get("fused_activation_function", "NONE")
    try:
        lo, hi = activation_range_s8(act, out_scale, out_zp)
    except ValueError:
        raise ctx.unsupported(op, f"fused activation {act}") from None
    params = {"input_offset": -in_zp, "output_offset": out_zp, "act_min": lo, "act_max": hi}
    return ctx.const("mult", mult, "int32_t"), ctx.const("shift", shift, "int32_t"), params


def float_activation(op: Operator, ctx: LoweringContext) -> dict[str, float]:
    act = op.options.get("fused_activation_function", "NONE")
    try:
        lo, hi = activation_range_f32(act)
    except ValueError:
        raise ctx.unsupported(op, f"fused activation {act}") from None
    return {"act_min": lo, "act_max": hi}


def bias_ptr(op: Operator, ctx: LoweringContext, index: int, ctype: str) -> str:
    if index >= len(op.inputs) or op.inputs[index] < 0:
        return "NULL"
    b = ctx.input(op, index)
    if not b.is_constant:
        raise ctx.unsupported(op, f"bias '{b.name}' is not a constant")
    expected = "int32_t" if ctype == "int32_t" else "float"
    if (b.dtype, expected) not in (("int32", "int32_t"), ("float32", "float")):
        raise ctx.unsupported(op, f"bias '{b.name}' has type {b.dtype}")
    return ctx.ptr(b)


INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def folded_bias(op: Operator, ctx: LoweringContext, w: Tensor, input_offset: int, channel_axis: int
                ) -> np.ndarray | None:
    """bias + input_offset * sum(filter) per output channel, for the optimized kernels' interior pixels;
    None when it would not fit an int32 (then the reference kernel runs)."""
    weights = w.data.astype(np.int64)
    sums = np.moveaxis(weights, channel_axis, 0).reshape(weights.shape[channel_axis], -1).sum(axis=1)
    total = sums * input_offset
    if ctx.has_input(op, 2):
        total = total + ctx.input(op, 2).data.astype(np.int64).reshape(-1)
    if total.min(initial=0) < INT32_MIN or total.max(initial=0) > INT32_MAX:
        return None
    return total.astype(np.int32)


def touches_padding(geo: dict[str, int]) -> bool:
    """Whether any output pixel's window reaches outside the input (then the kernel needs the plain bias)."""
    for axis in ("h", "w"):
        span = (geo[f"k_{axis}"] - 1) * geo[f"dil_{axis}"]
        last = (geo[f"out_{axis}"] - 1) * geo[f"stride_{axis}"] - geo[f"pad_{axis}"]
        if geo[f"pad_{axis}"] > 0 or last + span >= geo[f"in_{axis}"]:
            return True
    return False


def pack_rows(rows: np.ndarray, group: int) -> np.ndarray:
    """Weight rows [out_c, n] in the order the packed matrix kernels read them (td_mm2x2_packed_s8: group 2,
    td_mv1x4_packed_s8: group 4): per group of rows, 4-value chunks of each row in turn, then the n % 4
    tail of each row in turn; a partial last group is padded with zero rows."""
    rows = np.asarray(rows, dtype=np.int8)
    out_c, n = rows.shape
    if out_c % group:
        rows = np.concatenate([rows, np.zeros((group - out_c % group, n), np.int8)])
    n4 = n - n % 4
    groups = rows.reshape(-1, group, n)
    count = len(groups)
    body = groups[:, :, :n4].reshape(count, group, n4 // 4, 4).transpose(0, 2, 1, 3).reshape(count, -1)
    tail = groups[:, :, n4:].reshape(count, -1)
    return np.concatenate([body, tail], axis=1).reshape(-1)


def pack_pairs(rows: np.ndarray) -> np.ndarray:
    """pack_rows for output-channel pairs (the convolution kernel's 2 pixels x 2 channels step)."""
    return pack_rows(rows, 2)


def requant_arrays(op: Operator, ctx: LoweringContext, w: Tensor, channels: int) -> tuple[np.ndarray, np.ndarray]:
    """The per-channel multipliers and shifts int8_requant emits (TFLM's QuantizeMultiplier)."""
    in_scale, _ = quant_of(ctx.input(op, 0))
    out_scale, _ = quant_of(ctx.output(op, 0))
    scales = w.quant.scale if w.quant.scale.size > 1 else np.repeat(w.quant.scale, channels)
    mult, shift = per_channel_multipliers(in_scale, scales, out_scale)
    return np.asarray(mult, dtype=np.int64), np.asarray(shift, dtype=np.int64)


def fast_requant_ok(acc_bound: np.ndarray, shifts: np.ndarray) -> bool:
    """Whether td_requant_mul_fast is exact for every channel: a right shift (shift <= -1) and an
    accumulator provably below 2^30 in magnitude (acc_bound: per-channel bound on |acc|)."""
    return bool(np.all(shifts <= -1) and np.all(np.asarray(acc_bound, dtype=np.int64) < (1 << 30)))


MAX_FAST_EXPONENT = 22  # |out_offset| * 2^e <= 2^29: with |high| < 2^30 and 2^(e-1), no int32 sum overflows


def fast_requant_table(acc_bound: np.ndarray, mult: np.ndarray, shift: np.ndarray, output_offset: int
                       ) -> np.ndarray | None:
    """td_requant_row_s8_fast's table {mult, e, 2^(e-1) + output_offset * 2^e} per channel, or None when its
    preconditions (fast_requant_ok, e <= MAX_FAST_EXPONENT) do not hold for every channel."""
    if not fast_requant_ok(acc_bound, shift) or np.any(-shift > MAX_FAST_EXPONENT):
        return None
    e = -np.asarray(shift, dtype=np.int64)
    table = np.stack([np.asarray(mult, dtype=np.int64), e, (1 << (e - 1)) + output_offset * (1 << e)], axis=1)
    return table.reshape(-1).astype(np.int32)


FUSED_LAST = 256  # TD_FUSED_LAST in conv2d_s8_opt.c: on the last channel pair's second exponent


def fused_records(folded: np.ndarray, table: np.ndarray) -> np.ndarray:
    """td_conv_pair_fused's ten words per output-channel pair (an even number of channels): the two folded
    biases twice (both pixels' accumulators in one load), then the two channels' fast-table entries
    {mult, e, k}; the last pair's second e carries FUSED_LAST (the kernel's loop end; a register shift reads
    only the low byte of its amount)."""
    pairs = len(folded) // 2
    bias = np.asarray(folded, dtype=np.int64).reshape(pairs, 2)
    entries = np.asarray(table, dtype=np.int64).reshape(pairs, 6).copy()
    entries[-1, 4] |= FUSED_LAST
    return np.concatenate([bias, bias, entries], axis=1).reshape(-1).astype(np.int32)


def rq_ptr(ctx: LoweringContext, table: np.ndarray | None) -> str:
    return "NULL" if table is None else ctx.const("requant", table, "int32_t", align=4)


def requant_fields(ctx: LoweringContext, mult: np.ndarray, shift: np.ndarray, table: np.ndarray | None,
                   act_min: int, act_max: int) -> dict[str, str]:
    """A td_requant (requant_row_s8.h) naming the one requantization loop this layer needs, so the firmware
    links only the loops its layers use: the fast table where the generator proved it, with a single
    saturation when the activation range is all of int8; else TFLM's exact double rounding ({mult, shift}
    per channel)."""
    ctx.kernel("requant_row_s8")
    if table is None:
        exact = np.stack([mult, shift], axis=1).reshape(-1).astype(np.int32)
        return {"row": "td_requant_row_s8_exact", "table": ctx.const("requant", exact, "int32_t", align=4)}
    full = (act_min, act_max) == (-128, 127)
    return {"row": "td_requant_row_s8_fast_full" if full else "td_requant_row_s8_fast", "table": rq_ptr(ctx, table)}


# The int32 parameter structs' fields in C order (conv2d_s8.h, depthwise_conv2d_s8.h): the optimized
# kernels' descriptors carry them as int16 (geom16).
CONV_FIELDS = ("batches", "in_h", "in_w", "in_c", "out_h", "out_w", "out_c", "k_h", "k_w", "stride_h", "stride_w",
               "dil_h", "dil_w", "pad_h", "pad_w", "input_offset", "output_offset", "act_min", "act_max")
DEPTHWISE_FIELDS = CONV_FIELDS[:7] + ("depth_multiplier",) + CONV_FIELDS[7:]


def geom16(fields: dict[str, int], order: tuple[str, ...]) -> str | None:
    """The fields as a C int16 array initializer in `order`, or None when one does not fit in int16 (the
    layer then keeps the kernels with int32 parameters)."""
    values = [int(fields[k]) for k in order]
    if any(not -32768 <= v <= 32767 for v in values):
        return None
    return "{" + ", ".join(map(str, values)) + "}"


def packed_kernels_apply(ctx: LoweringContext) -> bool:
    """The packed-weight matrix kernels serve cores without Helium (plain C on M0+/M3, SMLAD on M4/M7/M33);
    Helium keeps the vector kernels of *_opt.c."""
    return ctx.target.optimized and not ctx.target.mve


MAX_DIRECT_PIECES = 49  # TD_CONV_MAX_PIECES in conv2d_s8_opt.h
# On cores with the DSP extension td_conv2d_s8_gemm widens a pixel pair's receptive field to int16 on the
# stack, 4 bytes per (padded) column, 6 with im2col rows (gemm_fetch): layers that
# would take more keep td_conv2d_s8_opt.
MAX_WIDENED_BYTES = 4096  # TD_CONV_MAX_WIDENED_BYTES in conv2d_s8_opt.h (a fixed stack buffer of that size)


def padded_columns(n: int) -> int:
    """The packed filter's columns: a receptive field of n values rounded up to an even number of 4-value
    groups (the DSP kernel takes two at a time)."""
    return (n + 7) // 8 * 8


def gemm_fits(ctx: LoweringContext, geo: dict[str, int]) -> bool:
    per_column = 6 if gemm_fetch(ctx, geo) == "td_conv_fetch_im2col" else 4
    return not ctx.target.dsp or padded_columns(geo["k_h"] * geo["k_w"] * geo["in_c"]) * per_column \
        <= MAX_WIDENED_BYTES


def is_unpadded_pointwise(geo: dict[str, int]) -> bool:
    return geo["k_h"] == 1 and geo["k_w"] == 1 and not touches_padding(geo)


def gemm_fetch(ctx: LoweringContext, geo: dict[str, int]) -> str:
    """How td_conv2d_s8_gemm reaches a pixel pair's receptive fields (conv2d_s8_opt.h: td_conv_fetch_*)."""
    if is_unpadded_pointwise(geo):  # stride 1: output pixel q reads input row q; else rows read in place
        return "td_conv_fetch_rows" if geo["stride_h"] == geo["stride_w"] == 1 else "td_conv_fetch_pointwise"
    # DSP cores widen pieces whose lengths are not multiples of 4 byte by byte: a 3-channel first layer's
    # 9-value filter rows cost ~900 instructions per pixel pair in place, fewer as im2col rows (one block
    # copy per filter row, then one aligned piece); MobileNetV2's stem 2.53M -> 2.26M on qemu-m4
    aligned = geo["in_c"] % 4 == 0 or geo["k_w"] * geo["in_c"] % 4 == 0 or not ctx.target.dsp
    if geo["k_h"] * geo["k_w"] <= MAX_DIRECT_PIECES and aligned:
        return "td_conv_fetch_pieces"  # the input read in place, taps outside it reading the zero point
    return "td_conv_fetch_im2col"


def lower_conv2d_gemm(op: Operator, ctx: LoweringContext, geo: dict[str, int], w: Tensor,
                      fields: dict[str, int], folded: np.ndarray) -> None:
    x, y = ctx.input(op, 0), ctx.output(op, 0)
    n = geo["k_h"] * geo["k_w"] * geo["in_c"]
    rows = w.data.reshape(geo["out_c"], n)
    fetch, aux = gemm_fetch(ctx, geo), "NULL"
    if fetch == "td_conv_fetch_pieces":  # taps outside the input read a row of zero points (no scratch)
        zp_row = ctx.const("zp_row", np.full(geo["k_w"] * geo["in_c"], quant_of(x)[1], np.int8), "int8_t",
                           align=4)
        aux = f"(int8_t *){zp_row}"
    # (im2col: rows padded to a multiple of 4 on the kernel's stack, against zero filter columns)
    # every row padded with zero columns to a multiple of 8: the kernel reads whole pairs of 4-value groups
    rows = np.concatenate([rows, np.zeros((geo["out_c"], padded_columns(n) - n), np.int8)], axis=1)
    packed = ctx.const("packed_filter", pack_pairs(rows), "int8_t")
    rows = rows.astype(np.int64)
    bound = np.abs(folded.astype(np.int64)) + 128 * np.abs(rows).sum(axis=1)  # |acc| with raw int8 inputs
    mult, shift = requant_arrays(op, ctx, w, geo["out_c"])
    table = fast_requant_table(bound, mult, shift, quant_of(y)[1])
    ctx.kernel("conv2d_s8_opt")
    full = table is not None and (fields["act_min"], fields["act_max"]) == (-128, 127)
    if ctx.target.dsp and full and geo["out_c"] % 2 == 0:
        # DSP cores, the full int8 range, channel pairs: the bias and the fast table interleaved per pair for
        # the one-block kernel (td_conv_pair_fused), nothing else to link
        pair, rq = "td_conv_pair_fused", {"row": "NULL", "table": "NULL"}
        bias = ctx.const("fused_records", fused_records(folded, table), "int32_t", align=4)
    else:
        rq = requant_fields(ctx, mult, shift, table, fields["act_min"], fields["act_max"])
        # other DSP layers: an odd channel count of the full int8 range requantized in registers
        # (td_conv_pair_fast, no loop to link), the rest through rq->row (td_conv_pair_rq); only the named
        # ones link
        pair = "NULL"
        if ctx.target.dsp:
            pair = "td_conv_pair_fast" if full else "td_conv_pair_rq"
            if full:
                rq["row"] = "NULL"
        # padded to an even count: an odd last channel's zero partner reads a bias too
        bias = ctx.const("folded_bias", np.concatenate([folded, np.zeros(len(folded) % 2, np.int32)]), "int32_t")
    desc = ctx.struct("op", "td_conv2d_s8_gemm_op", {
        "geom": geom16(fields, CONV_FIELDS), "input": ctx.ptr(x), "output": ctx.ptr(y), "packed": packed,
        "folded_bias": bias, "rq": rq, "fetch": fetch, "aux": aux, "pair": pair})
    ctx.emit(f"td_conv2d_s8_gemm({desc});")


@lowering("CONV_2D")
def lower_conv2d(op: Operator, ctx: LoweringContext) -> None:
    x, w, y = ctx.input(op, 0), ctx.input(op, 1), ctx.output(op, 0)
    if not w.is_constant:
        raise ctx.unsupported(op, f"filter '{w.name}' is not a constant")
    if len(w.shape) != 4:
        raise ctx.unsupported(op, f"filter shape {list(w.shape)}")
    if x.shape[3] != w.shape[3]:
        raise ctx.unsupported(op, f"grouped convolution ({x.shape[3]} input channels, filter depth {w.shape[3]})")
    geo = conv_geometry(op, ctx, x, w, y, (w.shape[1], w.shape[2]))
    if w.shape[0] != geo["out_c"]:
        raise ctx.unsupported(op, f"filter has {w.shape[0]} outputs, output has {geo['out_c']} channels")
    kinds = (x.dtype, w.dtype, y.dtype)
    if kinds == ("int8", "int8", "int8"):
        mult, shift, q = int8_requant(op, ctx, x, w, y, geo["out_c"])
        folded = folded_bias(op, ctx, w, q["input_offset"], 0) if ctx.target.optimized else None
        from tinydeploy.aot.ops.conv_mve import lower_conv2d_mve  # Helium cores (conv_mve imports this module)
        if lower_conv2d_mve(op, ctx, geo, w, q, folded):
            return
        if (folded is not None and packed_kernels_apply(ctx) and geom16({**geo, **q}, CONV_FIELDS)
                and gemm_fits(ctx, geo)):
            lower_conv2d_gemm(op, ctx, geo, w, {**geo, **q}, folded)
            return
        params = ctx.struct("params", "td_conv2d_s8_params", {**geo, **q})
        if folded is not None:
            ctx.kernel("conv2d_s8_opt")
            border_bias = bias_ptr(op, ctx, 2, "int32_t") if touches_padding(geo) else "NULL"
            ctx.emit(f"td_conv2d_s8_opt({params}, {ctx.ptr(x)}, {ctx.ptr(w)}, {border_bias}, "
                     f"{ctx.const('folded_bias', folded, 'int32_t')}, {mult}, {shift}, {ctx.ptr(y)});")
            return
        ctx.kernel("conv2d_s8")
        ctx.emit(f"td_conv2d_s8({params}, {ctx.ptr(x)}, {ctx.ptr(w)}, {bias_ptr(op, ctx, 2, 'int32_t')}, "
                 f"{mult}, {shift}, {ctx.ptr(y)});")
    elif kinds == ("int16", "int8", "int16"):
        lower_conv2d_s16(op, ctx, geo)
    elif kinds == ("float32", "float32", "float32"):
        params = ctx.struct("params", "td_conv2d_f32_params",
                            {**geo, **float_activation(op, ctx)})
        ctx.kernel("conv2d_f32")
        ctx.emit(f"td_conv2d_f32({params}, {ctx.ptr(x)}, {ctx.ptr(w)}, {bias_ptr(op, ctx, 2, 'float')}, "
                 f"{ctx.ptr(y)});")
    else:
        raise ctx.unsupported(op, f"input/filter/output types {'/'.join(kinds)}")
