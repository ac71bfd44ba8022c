"""DEPTHWISE_CONV_2D lowering: int8 per-channel (TFLM reference semantics), 16x8 (int16x8.py) and float32."""

from __future__ import annotations

from tinydeploy.aot.lowering import LoweringContext, lowering
from tinydeploy.aot.ops.conv2d import (
    bias_ptr,
    conv_geometry,
    float_activation,
    folded_bias,
    int8_requant,
    touches_padding,
)
from tinydeploy.aot.ops.conv_mve import lower_depthwise_mve
from tinydeploy.aot.ops.depthwise_packed import lower_depthwise_packed
from tinydeploy.aot.ops.int16x8 import lower_depthwise_conv2d_s16
from tinydeploy.model.graph import Operator


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
