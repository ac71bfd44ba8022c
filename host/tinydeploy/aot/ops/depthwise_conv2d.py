"""DEPTHWISE_CONV_2D lowering: int8 per-channel (TFLM reference semantics), 16x8 (int16x8.py) and float32."""

from __future__ import annotations

import numpy as np

from tinydeploy.aot.lowering import LoweringContext, lowering, quant_of
from tinydeploy.aot.ops.conv2d import (
    DEPTHWISE_FIELDS,
    bias_ptr,
    conv_geometry,
    fast_requant_table,
    float_activation,
    folded_bias,
    geom16,
    int8_requant,
    packed_kernels_apply,
    requant_arrays,
    requant_fields,
    rq_ptr,
    touches_padding,
)
from tinydeploy.aot.ops.conv_mve import lower_depthwise_mve
from tinydeploy.aot.ops.depthwise_packed import lower_depthwise_packed
from tinydeploy.aot.ops.int16x8 import lower_depthwise_conv2d_s16
from tinydeploy.model.graph import Operator, Tensor


def pack_3x3_pairs(weights: np.ndarray) -> np.ndarray:
    """A 3x3 depthwise filter [9 taps][channels] as td_dw9_c4 reads it: per group of four channels, 36 int16 --
    for each tap pair (2j, 2j+1) one {w[2j][c], w[2j+1][c]} per channel c0..c3, then tap 8 as {w[8][c0],
    w[8][c2]}, {w[8][c1], w[8][c3]} (the halves SXTAB16 gives)."""
    taps, c = weights.shape
    g = weights.astype(np.int16).reshape(taps, c // 4, 4).transpose(1, 0, 2)  # [group][tap][channel]
    pairs = g[:, :8, :].reshape(c // 4, 4, 2, 4).transpose(0, 1, 3, 2).reshape(c // 4, 32)  # [j][c][t & 1]
    last = g[:, 8, :][:, [0, 2, 1, 3]]
    return np.concatenate([pairs, last], axis=1).reshape(-1)


def lower_depthwise_c4(op: Operator, ctx: LoweringContext, geo: dict[str, int], w: Tensor,
                       mult: str, shift: str, q: dict[str, int]) -> None:
    """Depth multiplier 1, channels a multiple of 4: the filter packed as [channels / 4][taps][4]."""
    input_offset, act_min, act_max = q["input_offset"], q["act_min"], q["act_max"]
    x, y = ctx.input(op, 0), ctx.output(op, 0)
    c, taps = geo["out_c"], geo["k_h"] * geo["k_w"]
    weights = w.data.reshape(taps, c)
    bias = ctx.input(op, 2).data.astype(np.int64).reshape(-1) if ctx.has_input(op, 2) else np.zeros(c, np.int64)
    widest = max(abs(-128 + input_offset), abs(127 + input_offset))
    bound = np.abs(bias) + np.abs(weights.astype(np.int64)).sum(axis=0) * widest
    mult_values, shift_values = requant_arrays(op, ctx, w, c)
    table = fast_requant_table(bound, mult_values, shift_values, quant_of(y)[1])
    ctx.kernel("depthwise_conv2d_s8_opt")
    geom = geom16({**geo, **q}, DEPTHWISE_FIELDS) if (geo["k_h"], geo["k_w"]) == (3, 3) else None
    if geom:
        # a tap outside the input reads the zero point (its x + input_offset is 0, as padding must be);
        # the kernel reads four biases at a time: zeros when the op has none
        zp_row = ctx.const("zp_row", np.full(c, -input_offset, np.int8), "int8_t", align=4) \
            if touches_padding(geo) else "NULL"
        bias_arg = bias_ptr(op, ctx, 2, "int32_t") if ctx.has_input(op, 2) else ctx.const("zero_bias", bias, "int32_t")
        filt = ctx.const("packed_filter", pack_3x3_pairs(weights), "int16_t")
        desc = ctx.struct("op", "td_depthwise_conv2d_s8_3x3_op", {
            "geom": geom, "input": ctx.ptr(x), "output": ctx.ptr(y), "packed": filt, "bias": bias_arg,
            "rq": requant_fields(ctx, mult_values, shift_values, table, act_min, act_max), "zp_row": zp_row})
        ctx.emit(f"td_depthwise_conv2d_s8_3x3({desc});")
    else:
        packed = weights.reshape(taps, c // 4, 4).transpose(1, 0, 2).reshape(-1)  # [group][tap][4]
        filt = ctx.const("packed_filter", packed, "int8_t")
        params = ctx.struct("params", "td_depthwise_conv2d_s8_params", {**geo, **q})
        ctx.emit(f"td_depthwise_conv2d_s8_c4({params}, {ctx.ptr(x)}, {filt}, {bias_ptr(op, ctx, 2, 'int32_t')}, "
                 f"{mult}, {shift}, {ctx.ptr(y)}, {rq_ptr(ctx, table)});")


@lowering("DEPTHWISE_CONV_2D")
def lower_depthwise_conv2d(op: Operator, ctx: LoweringContext) -> None:
    x, w, y = ctx.input(op, 0), ctx.input(op, 1), ctx.output(op, 0)
    if not w.is_constant:
        raise ctx.unsupported(op, f"filter '{w.name}' is not a constant")
    if len(w.shape) != 4 or w.shape[0] != 1:
        raise ctx.unsupported(op, f"filter shape {list(w.shape)}")
    geo = conv_geometry(op, ctx, x, w, y, (w.shape[1], w.shape[2]))
    in_c, out_c = geo["in_c"], geo["out_c"]
    if w.shape[3] != out_c or out_c % in_c:
        raise ctx.unsupported(op, f"{in_c} input channels, {out_c} output channels, filter {list(w.shape)}")
    # TFLM derives the multiplier from the shapes (the option may be 0 in old files).
    geo["depth_multiplier"] = out_c // in_c
    kinds = (x.dtype, w.dtype, y.dtype)
    if kinds == ("int8", "int8", "int8"):
        mult, shift, q = int8_requant(op, ctx, x, w, y, out_c)
        folded = folded_bias(op, ctx, w, q["input_offset"], 3) if ctx.target.optimized else None
        if lower_depthwise_mve(op, ctx, geo, w, q, folded):  # Helium cores
            return
        if lower_depthwise_packed(op, ctx, geo, w, q, folded):  # cores without Helium, multiplier 1
            return
        if packed_kernels_apply(ctx) and geo["depth_multiplier"] == 1 and in_c % 4 == 0:
            lower_depthwise_c4(op, ctx, geo, w, mult, shift, q)
            return
        params = ctx.struct("params", "td_depthwise_conv2d_s8_params", {**geo, **q})
        if folded is not None:
            ctx.kernel("depthwise_conv2d_s8_opt")
            ctx.emit(f"td_depthwise_conv2d_s8_opt({params}, {ctx.ptr(x)}, {ctx.ptr(w)}, "
                     f"{bias_ptr(op, ctx, 2, 'int32_t') if touches_padding(geo) else 'NULL'}, "
                     f"{ctx.const('folded_bias', folded, 'int32_t')}, "
                     f"{mult}, {shift}, {ctx.ptr(y)});")
            return
        ctx.kernel("depthwise_conv2d_s8")
        ctx.emit(f"td_depthwise_conv2d_s8({params}, {ctx.ptr(x)}, {ctx.ptr(w)}, {bias_ptr(op, ctx, 2, 'int32_t')}, "
                 f"{mult}, {shift}, {ctx.ptr(y)});")
    elif kinds == ("int16", "int8", "int16"):
        lower_depthwise_conv2d_s16(op, ctx, geo)
    elif kinds == ("float32", "float32", "float32"):
        params = ctx.struct("params", "td_depthwise_conv2d_f32_params",
                            {**geo, **float_activation(op, ctx)})
        ctx.kernel("depthwise_conv2d_f32")
        ctx.emit(f"td_depthwise_conv2d_f32({params}, {ctx.ptr(x)}, {ctx.ptr(w)}, {bias_ptr(op, ctx, 2, 'float')}, "
                 f"{ctx.ptr(y)});")
    else:
        raise ctx.unsupported(op, f"input/filter/output types {'/'.join(kinds)}")
