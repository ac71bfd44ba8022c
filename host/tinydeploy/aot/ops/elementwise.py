"""ADD and MUL (int8 and float32, N-D broadcasting), plus the activation and literal helpers of this family.

Quantization parameters are computed here exactly as TFLite Micro's Prepare computes them (add_common.cc:
left shift 20, both inputs rescaled to twice the larger input scale; mul_common.cc: one multiplier
in1_scale * in2_scale / out_scale), all in double from the tensors' float32 scales.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tinydeploy.aot.codegen import c_float
from tinydeploy.aot.lowering import LoweringContext, activation_range_f32, lowering
from tinydeploy.aot.ops.add_mve import lower_add_mve, lower_mul_mve
from tinydeploy.aot.ops.conv2d import MAX_FAST_EXPONENT
from tinydeploy.aot.ops.int16x8 import lower_add_s16, lower_mul_s16
from tinydeploy.aot.ops.transpose import c_array, contiguous_strides, merge_axes, pad6
from tinydeploy.aot.quant import activation_range_s8, quantize_multiplier
from tinydeploy.model.graph import Operator, Tensor

ADD_LEFT_SHIFT_S8 = 20
FUSED_ACTIVATIONS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")


def scale_zp(t: Tensor) -> tuple[float, int]:
    """Per-tensor scale (as the float32 TFLM reads, widened to double) and zero point."""
    if t.quant is None or t.quant.scale.size != 1:
        raise ValueError(f"tensor '{t.name}' is not per-tensor quantized")
    return float(np.float32(t.quant.scale[0])), int(t.quant.zero_point[0])


def check_quantized(op: Operator, ctx: LoweringContext, *tensors: Tensor) -> None:
    for t in tensors:
        if t.quant is None or t.quant.scale.size != 1:
            raise ctx.unsupported(op, f"int8 tensor '{t.name}' needs per-tensor quantization")


def activation(op: Operator, ctx: LoweringContext) -> str:
    act = op.options.get("fused_activation_function", "NONE")
    if act not in FUSED_ACTIVATIONS:
        raise ctx.unsupported(op, f"fused activation {act} is not supported")
    return act


def int8_range(op: Operator, ctx: LoweringContext, out: Tensor) -> tuple[int, int]:
    scale, zp = scale_zp(out)
    return activation_range_s8(activation(op, ctx), scale, zp)


def float_range(op: Operator, ctx: LoweringContext) -> tuple[str, str]:
    lo, hi = activation_range_f32(activation(op, ctx))
    return c_float(lo), c_float(hi)


def broadcast6(op: Operator, ctx: LoweringContext, a: Sequence[int], b: Sequence[int], out: Sequence[int]
               ) -> tuple[list[int], list[int], list[int]]:
    """The 6-D iteration space of out = f(a, b) with numpy broadcasting: dims and the inputs' strides."""
    rank = len(out)
    if len(a) > rank or len(b) > rank:
        raise ctx.unsupported(op, f"input shapes {list(a)}, {list(b)} do not broadcast to {list(out)}")
    a_full = [1] * (rank - len(a)) + list(a)
    b_full = [1] * (rank - len(b)) + list(b)
    strides = []
    for shape in (a_full, b_full):
        dense = contiguous_strides(shape)
        s = []
        for k in range(rank):
            if shape[k] == out[k]:
                s.append(dense[k])
            elif shape[k] == 1:
                s.append(0)
            else:
                raise ctx.unsupported(op, f"input shapes {list(a)}, {list(b)} do not broadcast to {list(out)}")
        strides.append(s)
    dims, (sa, sb) = merge_axes(list(out), *strides)
    padded = pad6(dims, sa, sb)
    if padded is None:
        raise ctx.unsupported(op, f"broadcasting over {len(dims)} separate axes is not supported (at most 6)")
    d6, (sa6, sb6) = padded
    return d6, sa6, sb6


def _operands(op: Operator, ctx: LoweringContext) -> tuple[Tensor, Tensor, Tensor]:
    a, b, y = ctx.input(op, 0), ctx.input(op, 1), ctx.output(op, 0)
    if not (a.dtype == b.dtype == y.dtype) or y.dtype not in ("int8", "float32"):
        raise ctx.unsupported(op, f"types {a.dtype}, {b.dtype} -> {y.dtype} (int8 or float32 only)")
    for t in (a, b):  # the kernel reads each element before writing it: safe in place when not broadcast
        if tuple(t.shape) == tuple(y.shape):
            ctx.allow_inplace(op, t, y)
    return a, b, y


def add_s8_params(a: Tensor, b: Tensor, y: Tensor) -> dict[str, int]:
    """TFLM's CalculateOpDataAdd for int8."""
    sa, za = scale_zp(a)
    sb, zb = scale_zp(b)
    sy, zy = scale_zp(y)
    twice_max = 2.0 * max(sa, sb)
    ma, sha = quantize_multiplier(sa / twice_max)
    mb, shb = quantize_multiplier(sb / twice_max)
    mo, sho = quantize_multiplier(twice_max / ((1 << ADD_LEFT_SHIFT_S8) * sy))
    return {"a_offset": -za, "a_multiplier": ma, "a_shift": sha, "b_offset": -zb, "b_multiplier": mb,
            "b_shift": shb, "left_shift": ADD_LEFT_SHIFT_S8, "out_multiplier": mo, "out_shift": sho,
            "out_offset": zy}


def add_row_fast_ok(params: dict[str, int]) -> bool:
    """Whether add.h's td_add_s8_row is exact for these parameters: a left shift of at most 20 keeps every
    doubling high multiply's operand below 2^30 in magnitude, and its rounding shifts need 0 <= -shift <= 31
    (multipliers come from quantize_multiplier: in [2^30, 2^31) or 0)."""
    shifts = (params["a_shift"], params["b_shift"], params["out_shift"])
    return params["left_shift"] <= 20 and all(-31 <= s <= 0 for s in shifts)


def row_steps(d6: Sequence[int], sa6: Sequence[int], sb6: Sequence[int]) -> tuple[int, int] | None:
    """The inputs' element steps (0 or 1) when the iteration space is one row over a dense or single-value
    operand each (same shapes, or `x + scalar`), else None."""
    if any(d != 1 for d in d6[:5]) or sa6[5] not in (0, 1) or sb6[5] not in (0, 1):
        return None
    return sa6[5], sb6[5]


def mul_s8_params(a: Tensor, b: Tensor, y: Tensor) -> dict[str, int]:
    """TFLM's mul Prepare for int8."""
    sa, za = scale_zp(a)
    sb, zb = scale_zp(b)
    sy, zy = scale_zp(y)
    m, sh = quantize_multiplier(sa * sb / sy)
    return {"a_offset": -za, "b_offset": -zb, "out_multiplier": m, "out_shift": sh, "out_offset": zy}


def mul_fast_ok(params: dict[str, int]) -> bool:
    """Whether mul.h's td_mul_s8_fast is exact: a right shift within the fast requantization's range (the
    product of two offset int8 values, |x| <= 255 * 255, is far below its 2^30 bound)."""
    return 1 <= -params["out_shift"] <= MAX_FAST_EXPONENT


def _struct_literal(fields: dict[str, object]) -> str:
    return "{" + ", ".join(f".{k} = {v}" for k, v in fields.items()) + "}"


@lowering("ADD", "MUL")
def lower_add_mul(op: Operator, ctx: LoweringContext) -> None:
    if ctx.output(op, 0).dtype == "int16":
        (lower_add_s16 if op.opcode == "ADD" else lower_mul_s16)(op, ctx)
        return
    if ctx.output(op, 0).dtype == "int32":
        from tinydeploy.aot.ops.arith_i32 import lower_arith_i32  # imports this module

        lower_arith_i32(op, ctx)
        return
    a, b, y = _operands(op, ctx)
    d6, sa6, sb6 = broadcast6(op, ctx, a.shape, b.shape, y.shape)
    name = op.opcode.lower()
    ctx.kernel("add")  # add.h declares the broadcast view MUL shares
    if name == "mul":
        ctx.kernel("mul")
    view = f"static const td_bcast6 view = {{{c_array(d6)}, {c_array(sa6)}, {c_array(sb6)}}};"
    call_args = f"{ctx.ptr(a)}, {ctx.ptr(b)}, {ctx.ptr(y)}, &view"
    if y.dtype == "float32":
        lo, hi = float_range(op, ctx)
        ctx.emit(f"{{\n  {view}\n  td_{name}_f32({call_args}, {lo}, {hi});\n}}")
        return
    check_quantized(op, ctx, a, b, y)
    params = add_s8_params(a, b, y) if name == "add" else mul_s8_params(a, b, y)
    if name == "add" and max(params["a_shift"], params["b_shift"], params["out_shift"]) > 0:
        raise ctx.unsupported(op, "the output scale is too small relative to the input scales for int8 ADD")
    params["act_min"], params["act_max"] = int8_range(op, ctx, y)
    struct = f"static const td_{name}_s8_params p = {_struct_literal(params)};"
    steps = row_steps(d6, sa6, sb6)
    if name == "add" and steps is not None and add_row_fast_ok(params) and lower_add_mve(ctx, a, b, y, steps,
                                                                                       d6[5], params, struct):
        return  # Helium cores
    if name == "mul" and steps is not None and lower_mul_mve(ctx, a, b, y, steps, d6[5], struct):
        return  # Helium cores
    if name == "add" and ctx.target.optimized and steps is not None and add_row_fast_ok(params):
        # one flat loop, inlined so that the constant parameters become immediates (add.h)
        ctx.emit(f"{{\n  {struct}\n  td_add_s8_row({ctx.ptr(a)}, {steps[0]}, {ctx.ptr(b)}, {steps[1]}, "
                 f"{ctx.ptr(y)}, {d6[5]}, &p);\n}}")
        return
    fast = "_fast" if name == "mul" and ctx.target.optimized and mul_fast_ok(params) else ""
    ctx.emit(f"{{\n  {view}\n  {struct}\n  td_{name}_s8{fast}({call_args}, &p);\n}}")
