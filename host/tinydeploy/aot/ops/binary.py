"""SUB, MINIMUM, MAXIMUM, SQUARED_DIFFERENCE and DIV with N-D broadcasting, bit-exact with TFLite Micro.

The dtypes are TFLM's: SUB int8/int16/float32 (int32: ops/arith_i32.py); MINIMUM/MAXIMUM int8/int16/int32/float32 (a comparison of
stored values, no requantization); SQUARED_DIFFERENCE int8/int16/float32; DIV float32.  Quantization
parameters are computed as TFLM's Prepare computes them (sub_common.cc: ADD's parameters with left shift 20
for int8, 15 for int16; squared_difference.cc: left shift 7 / 0, output multiplier (2 max_scale)^2 /
(2^(2 shift) out_scale)), in double from the tensors' float32 scales.
"""

from __future__ import annotations

import numpy as np

from tinydeploy.aot.ops.elementwise import activation, broadcast6, check_quantized, float_range, scale_zp
from tinydeploy.aot.lowering import LoweringContext, lowering
from tinydeploy.aot.ops.transpose import c_array
from tinydeploy.aot.quant import activation_range_s8, quantize_multiplier
from tinydeploy.model.graph import Operator, Tensor

SUFFIX = {"int8": "s8", "int16": "s16", "int32": "i32", "float32": "f32"}
INT_RANGE = {"int8": (-128, 127), "int16": (-32768, 32767)}
SUPPORTED = {
    "SUB": ("int8", "int16", "float32"),
    "MINIMUM": ("int8", "int16", "int32", "float32"),
    "MAXIMUM": ("int8", "int16", "int32", "float32"),
    "SQUARED_DIFFERENCE": ("int8", "int16", "float32"),
    "DIV": ("float32",),
}
FIX = "quantize the model to int8 (or keep this op in float32)"


def binary_operands(op: Operator, ctx: LoweringContext, dtypes: tuple[str, ...]) -> tuple[Tensor, Tensor, Tensor]:
    """The two inputs and the output, all of one dtype among `dtypes`; in place allowed where not broadcast."""
    a, b, y = ctx.input(op, 0), ctx.input(op, 1), ctx.output(op, 0)
    if not (a.dtype == b.dtype == y.dtype) or y.dtype not in dtypes:
        raise ctx.unsupported(op, f"{op.opcode} with types {a.dtype}, {b.dtype} -> {y.dtype}: aot (like TFLite "
                                  f"Micro) runs it on {', '.join(dtypes)} with one type throughout; {FIX}")
    for t in (a, b):
        if tuple(t.shape) == tuple(y.shape):
            ctx.allow_inplace(op, t, y)
    return a, b, y


def emit_broadcast(op: Operator, ctx: LoweringContext, a: Tensor, b: Tensor, y: Tensor, call: str,
                   struct: str = "") -> None:
    """Emit `call` (a C call with the placeholder {args} = a, b, y, &view) inside a block holding the view."""
    d6, sa6, sb6 = broadcast6(op, ctx, a.shape, b.shape, y.shape)
    view = f"static const td_bcast6 view = {{{c_array(d6)}, {c_array(sa6)}, {c_array(sb6)}}};"
    args = f"{ctx.ptr(a)}, {ctx.ptr(b)}, {ctx.ptr(y)}, &view"
    ctx.kernel("add")  # td_bcast6 lives in add.h
    extra = f"  {struct}\n" if struct else ""
    ctx.emit(f"{{\n  {view}\n{extra}  {call.format(args=args)}\n}}")


def quantized_range(op: Operator, ctx: LoweringContext, y: Tensor) -> tuple[int, int]:
    scale, zp = scale_zp(y)
    lo, hi = INT_RANGE[y.dtype]
    return activation_range_s8(activation(op, ctx), scale, zp, lo, hi)


def _literal(fields: dict[str, int]) -> str:
    return "{" + ", ".join(f".{k} = {v}" for k, v in fields.items()) + "}"


def rescale_inputs(a: Tensor, b: Tensor, left_shift: int) -> tuple[dict[str, int], float]:
    """Both inputs rescaled to twice the larger input scale (TFLM's add/sub/squared-difference Prepare)."""
    sa, za = scale_zp(a)
    sb, zb = scale_zp(b)
    twice_max = 2.0 * max(sa, sb)
    ma, sha = quantize_multiplier(sa / twice_max)
    mb, shb = quantize_multiplier(sb / twice_max)
    return ({"a_offset": -za, "a_multiplier": ma, "a_shift": sha, "b_offset": -zb, "b_multiplier": mb,
             "b_shift": shb, "left_shift": left_shift}, twice_max)


def sub_params(a: Tensor, b: Tensor, y: Tensor) -> dict[str, int]:
    """TFLM's CalculateOpDataSub (int8: left shift 20, int16: 15)."""
    left_shift = 20 if y.dtype == "int8" else 15
    params, twice_max = rescale_inputs(a, b, left_shift)
    sy, zy = scale_zp(y)
    mo, sho = quantize_multiplier(twice_max / ((1 << left_shift) * sy))
    params.update({"out_multiplier": mo, "out_shift": sho, "out_offset": zy})
    return params


def squared_difference_params(a: Tensor, b: Tensor, y: Tensor) -> dict[str, int]:
    """TFLM's SquaredDifference PrepareQuantized (int8: left shift 7, int16: 0); the divisor 2^(2 shift) *
    out_scale is formed in float32 as TFLM does, then widened."""
    left_shift = 7 if y.dtype == "int8" else 0
    params, twice_max = rescale_inputs(a, b, left_shift)
    sy, zy = scale_zp(y)
    divisor = float(np.float32(np.float32(1 << (2 * left_shift)) * np.float32(sy)))
    mo, sho = quantize_multiplier(twice_max * twice_max / divisor)
    lo, hi = INT_RANGE[y.dtype]
    params.update({"out_multiplier": mo, "out_shift": sho, "out_offset": zy, "act_min": lo, "act_max": hi})
    return params


def check_int16_symmetric(op: Operator, ctx: LoweringContext, *tensors: Tensor) -> None:
    for t in tensors:
        if t.dtype == "int16" and scale_zp(t)[1] != 0:
            raise ctx.unsupported(op, f"int16 tensor '{t.name}' has zero point {scale_zp(t)[1]}; TFLite Micro "
                                      "requires 0 for int16 (quantize with the int16x8 mode)")


@lowering("SUB")
def lower_sub(op: Operator, ctx: LoweringContext) -> None:
    if ctx.output(op, 0).dtype == "int32":
        from tinydeploy.aot.ops.arith_i32 import lower_arith_i32  # (it imports elementwise)

        lower_arith_i32(op, ctx)
        return
    a, b, y = binary_operands(op, ctx, SUPPORTED["SUB"])
    ctx.kernel("sub")
    if y.dtype == "float32":
        lo, hi = float_range(op, ctx)
        emit_broadcast(op, ctx, a, b, y, f"td_sub_f32({{args}}, {lo}, {hi});")
        return
    check_quantized(op, ctx, a, b, y)
    check_int16_symmetric(op, ctx, a, b, y)
    params = sub_params(a, b, y)
    if max(params["a_shift"], params["b_shift"], params["out_shift"]) > 0:
        raise ctx.unsupported(op, f"the output scale of {y.dtype} SUB is too small relative to the input scales "
                                  "(a rescale above 1 that TFLM's smaller-than-one arithmetic cannot express)")
    params["act_min"], params["act_max"] = quantized_range(op, ctx, y)
    struct = f"static const td_add_s8_params p = {_literal(params)};"
    emit_broadcast(op, ctx, a, b, y, f"td_sub_{SUFFIX[y.dtype]}({{args}}, &p);", struct)


@lowering("MINIMUM", "MAXIMUM")
def lower_minimum_maximum(op: Operator, ctx: LoweringContext) -> None:
    a, b, y = binary_operands(op, ctx, SUPPORTED[op.opcode])
    name = op.opcode.lower()
    ctx.kernel(name)
    emit_broadcast(op, ctx, a, b, y, f"td_{name}_{SUFFIX[y.dtype]}({{args}});")


@lowering("SQUARED_DIFFERENCE")
def lower_squared_difference(op: Operator, ctx: LoweringContext) -> None:
    a, b, y = binary_operands(op, ctx, SUPPORTED["SQUARED_DIFFERENCE"])
    ctx.kernel("squared_difference")
    if y.dtype == "float32":
        emit_broadcast(op, ctx, a, b, y, "td_squared_difference_f32({args});")
        return
    check_quantized(op, ctx, a, b, y)
    check_int16_symmetric(op, ctx, a, b, y)
    params = squared_difference_params(a, b, y)
    if params["a_shift"] > 0 or params["b_shift"] > 0:
        raise ctx.unsupported(op, "input rescale above 1 (TFLM's smaller-than-one multiplier cannot express it)")
    struct = f"static const td_squared_difference_params p = {_literal(params)};"
    emit_broadcast(op, ctx, a, b, y, f"td_squared_difference_{SUFFIX[y.dtype]}({{args}}, &p);", struct)


@lowering("DIV")
def lower_div(op: Operator, ctx: LoweringContext) -> None:
    a, b, y = ctx.input(op, 0), ctx.input(op, 1), ctx.output(op, 0)
    if not (a.dtype == b.dtype == y.dtype == "float32"):
        raise ctx.unsupported(op, f"DIV with types {a.dtype}, {b.dtype} -> {y.dtype}: aot runs float32 DIV only; "
                                  "for an int8 model divide by a constant as MUL by its reciprocal, or keep the "
                                  "division in float32")
    binary_operands(op, ctx, ("float32",))
    ctx.kernel("div")
    lo, hi = float_range(op, ctx)
    emit_broadcast(op, ctx, a, b, y, f"td_div_f32({{args}}, {lo}, {hi});")
