"""EQUAL, NOT_EQUAL, LESS, LESS_EQUAL, GREATER, GREATER_EQUAL (-> bool) and SELECT_V2, as TFLite Micro.

Comparisons run on float32, int32 and int8 (TFLM's dtypes; its int16 support is partial and not taken
here).  int8 inputs are compared after TFLM's rescaling (comparisons_common.cc): (x - zp) << 8 times the
input's own scale as a Q31 multiplier below one, so inputs of different quantizations compare by real value
the way TFLM rounds them.  SELECT_V2 (int8, int16, float32 values, as TFLM) copies elements: one kernel
per element size.
"""

from __future__ import annotations

from collections.abc import Sequence

from tinydeploy.aot.lowering import LoweringContext, lowering
from tinydeploy.aot.ops.binary import emit_broadcast
from tinydeploy.aot.ops.elementwise import check_quantized, scale_zp
from tinydeploy.aot.ops.transpose import c_array, contiguous_strides, merge_axes, pad6
from tinydeploy.aot.quant import quantize_multiplier
from tinydeploy.model.graph import Operator, Tensor

COMPARISONS = ("EQUAL", "NOT_EQUAL", "LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL")
SUFFIX = {"int8": "s8", "int32": "i32", "float32": "f32"}
ELEMENT_BITS = {"int8": 8, "int16": 16, "float32": 32}  # SELECT_V2 value types TFLM runs
COMPARE_LEFT_SHIFT = 8


def compare_s8_params(op: Operator, ctx: LoweringContext, a: Tensor, b: Tensor) -> dict[str, int]:
    fields: dict[str, int] = {}
    for key, t in (("a", a), ("b", b)):
        scale, zp = scale_zp(t)
        m, s = quantize_multiplier(scale)
        if s > 0:
            raise ctx.unsupported(op, f"input '{t.name}' has scale {scale:g} >= 1, which TFLM's int8 comparison "
                                      "(a multiplier below one) cannot express")
        fields.update({f"{key}_offset": -zp, f"{key}_multiplier": m, f"{key}_shift": s})
    fields["left_shift"] = COMPARE_LEFT_SHIFT
    return {k: fields[k] for k in ("a_offset", "a_multiplier", "a_shift", "b_offset", "b_multiplier", "b_shift",
                                   "left_shift")}


@lowering(*COMPARISONS)
def lower_comparison(op: Operator, ctx: LoweringContext) -> None:
    a, b, y = ctx.input(op, 0), ctx.input(op, 1), ctx.output(op, 0)
    if a.dtype != b.dtype or a.dtype not in SUFFIX or y.dtype != "bool":
        raise ctx.unsupported(op, f"{op.opcode} of {a.dtype} and {b.dtype} -> {y.dtype}: aot compares float32, "
                                  "int32 or int8 inputs of one type into bool; quantize the model to int8")
    name = op.opcode.lower()
    ctx.kernel("comparisons")
    call = f"td_{name}_{SUFFIX[a.dtype]}({{args}}"
    if a.dtype != "int8":
        emit_broadcast(op, ctx, a, b, y, call + ");")
        return
    check_quantized(op, ctx, a, b)
    fields = ", ".join(f".{k} = {v}" for k, v in compare_s8_params(op, ctx, a, b).items())
    emit_broadcast(op, ctx, a, b, y, call + ", &p);", f"static const td_compare_s8_params p = {{{fields}}};")


def broadcast_strides(shape: Sequence[int], out: Sequence[int]) -> list[int] | None:
    """Element strides of `shape` read as `out` (numpy broadcasting), or None when it does not broadcast."""
    rank = len(out)
    if len(shape) > rank:
        return None
    full = [1] * (rank - len(shape)) + [int(d) for d in shape]
    dense = contiguous_strides(full)
    strides = []
    for k in range(rank):
        if full[k] == out[k]:
            strides.append(dense[k])
        elif full[k] == 1:
            strides.append(0)
        else:
            return None
    return strides


@lowering("SELECT_V2")
def lower_select_v2(op: Operator, ctx: LoweringContext) -> None:
    """SELECT_V2 broadcasts all three operands.  (SELECT, v1, is not registered by TFLite Micro: left out.)"""
    cond, x, y_in, out = ctx.input(op, 0), ctx.input(op, 1), ctx.input(op, 2), ctx.output(op, 0)
    if cond.dtype != "bool" or not (x.dtype == y_in.dtype == out.dtype) or out.dtype not in ELEMENT_BITS:
        raise ctx.unsupported(op, f"{op.opcode} with condition {cond.dtype} and values {x.dtype}, {y_in.dtype} -> "
                                  f"{out.dtype}: TFLite Micro and aot need a bool condition and int8, int16 or float32 values "
                                  "of one type")
    if x.dtype == "int8" and (scale_zp(x) != scale_zp(out) or scale_zp(y_in) != scale_zp(out)):
        raise ctx.unsupported(op, f"int8 {op.opcode} copies values: inputs and output need one quantization")
    strides = [broadcast_strides(t.shape, out.shape) for t in (cond, x, y_in)]
    if any(s is None for s in strides):
        raise ctx.unsupported(op, f"shapes {list(cond.shape)}, {list(x.shape)}, {list(y_in.shape)} do not "
                                  f"broadcast to {list(out.shape)}")
    dims, merged = merge_axes(list(out.shape), *strides)
    padded = pad6(dims, *merged)
    if padded is None:
        raise ctx.unsupported(op, "broadcasting over more than 6 separate axes is not supported")
    d6, (sc, sx, sy) = padded
    ctx.kernel("select_v2")
    view = f"static const td_bcast6x3 view = {{{c_array(d6)}, {c_array(sc)}, {c_array(sx)}, {c_array(sy)}}};"
    ctx.emit(f"{{\n  {view}\n  td_select_v2({ctx.ptr(cond, 'uint8_t')}, {ctx.ptr(x, 'uint8_t')}, "
             f"{ctx.ptr(y_in, 'uint8_t')}, {ctx.ptr(out, 'uint8_t')}, &view, {ELEMENT_BITS[out.dtype] // 8}u);\n}}")
