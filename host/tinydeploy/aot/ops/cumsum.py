"""CUMSUM (float32 and int8) along one constant axis, exclusive and/or reverse, as TFLite Micro runs it.

int8 follows TFLM's Prepare and reference kernel: elements (code - input zero point) shifted left 20 bits and
scaled by the input multiplier 0.5 (input scale over twice itself), the running sum requantized by
2 * input scale / (2^20 * output scale); TFLM starts the running sum at the scaled -(input zero point)
rather than 0, and the kernel reproduces that.
"""

from __future__ import annotations

import numpy as np

from tinydeploy.aot.lowering import LoweringContext, lowering
from tinydeploy.aot.ops.elementwise import check_quantized, scale_zp
from tinydeploy.aot.ops.shape_ops import normalize_axis
from tinydeploy.aot.ops.transpose import const_ints
from tinydeploy.aot.quant import quantize_multiplier
from tinydeploy.model.graph import Operator

LEFT_SHIFT = 20  # TFLM's kCumSumIntegerShift


def _smaller_than_one(op: Operator, ctx: LoweringContext, real: float, what: str) -> tuple[int, int]:
    """TFLM's QuantizeMultiplierSmallerThanOneExp (the multiplier must be below 1)."""
    mult, shift = quantize_multiplier(real)
    if shift > 0:
        raise ctx.unsupported(op, f"the {what} rescale {real:.3g} is not below 1 (TFLite Micro requires it)")
    return mult, shift


@lowering("CUMSUM")
def lower_cumsum(op: Operator, ctx: LoweringContext) -> None:
    x, y = ctx.input(op, 0), ctx.output(op, 0)
    if x.dtype != y.dtype or x.dtype not in ("float32", "int8"):
        raise ctx.unsupported(op, f"types {x.dtype} -> {y.dtype}; TFLite Micro's CUMSUM runs float32 and int8")
    if tuple(x.shape) != tuple(y.shape) or not x.shape:
        raise ctx.unsupported(op, f"output {list(y.shape)} must have input {list(x.shape)}'s shape (at least 1-D)")
    axis_values = const_ints(op, ctx, 1, "axis").reshape(-1)
    if axis_values.size != 1 or ctx.input(op, 1).dtype != "int32":
        raise ctx.unsupported(op, "the axis must be one constant int32")
    axis = normalize_axis(op, ctx, int(axis_values[0]), len(x.shape))
    if y.size == 0:
        return
    geom = ctx.struct("geom", "td_cumsum_geom", {
        "outer": int(np.prod(x.shape[:axis], dtype=np.int64)), "depth": int(x.shape[axis]),
        "inner": int(np.prod(x.shape[axis + 1:], dtype=np.int64)),
        "exclusive": int(bool(op.options.get("exclusive", False))),
        "reverse": int(bool(op.options.get("reverse", False)))})
    ctx.kernel("cumsum")
    if x.dtype == "float32":
        ctx.emit(f"td_cumsum_f32({ctx.ptr(x)}, {ctx.ptr(y)}, {geom});")
        return
    check_quantized(op, ctx, x, y)
    (s_in, zp_in), (s_out, zp_out) = scale_zp(x), scale_zp(y)
    twice = 2 * s_in
    in_mult, in_shift = _smaller_than_one(op, ctx, s_in / twice, "input")
    out_mult, out_shift = _smaller_than_one(op, ctx, twice / ((1 << LEFT_SHIFT) * s_out), "output")
    params = ctx.struct("params", "td_cumsum_s8_params", {
        "input_zp": zp_in, "output_zp": zp_out, "input_mult": in_mult, "input_shift": in_shift,
        "output_mult": out_mult, "output_shift": out_shift})
    ctx.emit(f"td_cumsum_s8({ctx.ptr(x)}, {ctx.ptr(y)}, {geom}, {params});")
