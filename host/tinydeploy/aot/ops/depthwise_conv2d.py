"""DEPTHWISE_CONV_2D lowering: int8 per-channel (TFLM reference semantics) and float32."""

from __future__ import annotations

import numpy as np

from tinydeploy.aot.lowering import LoweringContext, lowering
from tinydeploy.aot.ops.conv2d import (
    bias_ptr,
    conv_geometry,
    float_activation,
    fast_requant_ok,
    folded_bias,
    gemm_conv_applies,
    int8_requant,
    requant_shifts,
    touches_padding,
)
from tinydeploy.model.graph import Operator, Tensor


def lower_depthwise_c4(op: Operator, ctx: LoweringContext, geo: dict[str, int], w: Tensor, params: str,
                       mult: str, shift: str, input_offset: int) -> None:
    """Depth multiplier 1, channels a multiple of 4: the filter packed as [channels / 4][taps][4]."""
    x, y = ctx.input(op, 0), ctx.output(op, 0)
    c, taps = geo["out_c"], geo["k_h"] * geo["k_w"]
    weights = w.data.reshape(taps, c)
    packed = weights.reshape(taps, c // 4, 4).transpose(1, 0, 2).reshape(-1)
    bias = ctx.input(op, 2).data.astype(np.int64).reshape(-1) if ctx.has_input(op, 2) else np.zeros(c, np.int64)
    widest = max(abs(-128 + input_offset), abs(127 + input_offset))
    bound = np.abs(bias) + np.abs(weights.astype(np.int64)).sum(axis=0) * widest
    fast = fast_requant_ok(bound, requant_shifts(op, ctx, w, c))
    ctx.kernel("depthwise_conv2d_s8_opt")
    ctx.emit(f"td_depthwise_conv2d_s8_c4({params}, {ctx.ptr(x)}, {ctx.const('packed_filter', packed, 'int8_t')}, "
             f"{bias_ptr(op, ctx, 2, 'int32_t')}, {mult}, {shift}, {ctx.ptr(y)}, {int(fast)});")


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
        params = ctx.struct("params", "td_depthwise_conv2d_s8_params", {**geo, **q})
        folded = folded_bias(op, ctx, w, q["input_offset"], 3) if ctx.target.optimized else None
        if gemm_conv_applies(ctx) and geo["depth_multiplier"] == 1 and in_c % 4 == 0:
            lower_depthwise_c4(op, ctx, geo, w, params, mult, shift, q["input_offset"])
            return
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
    elif kinds == ("float32", "float32", "float32"):
        params = ctx.struct("params", "td_depthwise_conv2d_f32_params",
                            {**geo, **float_activation(op, ctx)})
        ctx.kernel("depthwise_conv2d_f32")
        ctx.emit(f"td_depthwise_conv2d_f32({params}, {ctx.ptr(x)}, {ctx.ptr(w)}, {bias_ptr(op, ctx, 2, 'float')}, "
                 f"{ctx.ptr(y)});")
    else:
        raise ctx.unsupported(op, f"input/filter/output types {'/'.join(kinds)}")
