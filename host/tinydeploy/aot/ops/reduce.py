"""REDUCE_MAX, REDUCE_MIN, SUM over constant axes, and ARG_MAX / ARG_MIN along one axis, as TFLite Micro.

dtypes are TFLM's: REDUCE_MAX/MIN int8 (input and output of one quantization, compared as stored) and
float32; SUM int8, int16 and float32 (TFLM's QuantizedMeanOrSum with compute_sum: the int32 sum minus
in_zp * count times in_scale / out_scale, no 1/count folded in; int8 runs mean.c's td_mean_s8 with that
multiplier); ARG_MAX/MIN from int8 or float32 to int32.
"""

from __future__ import annotations

from dataclasses import dataclass

from tinydeploy.aot.lowering import LoweringContext, lowering
from tinydeploy.aot.ops.elementwise import check_quantized, scale_zp
from tinydeploy.aot.ops.transpose import c_array, const_ints, contiguous_strides, merge_axes, pad6
from tinydeploy.aot.quant import quantize_multiplier
from tinydeploy.model.graph import Operator, Tensor

REDUCE_DTYPES = {"REDUCE_MAX": ("int8", "float32"), "REDUCE_MIN": ("int8", "float32"),
                 "SUM": ("int8", "int16", "float32")}
SUFFIX = {"int8": "s8", "int16": "s16", "float32": "f32"}


@dataclass(frozen=True)
class Reduction:
    """A reduction's geometry in mean.h's td_mean_params terms."""

    fields: dict[str, object]
    count: int
    out_count: int


def reduction(op: Operator, ctx: LoweringContext, x: Tensor, y: Tensor) -> Reduction:
    rank = len(x.shape)
    raw = const_ints(op, ctx, 1, "axis").reshape(-1)
    axes = sorted({int(a) + rank if int(a) < 0 else int(a) for a in raw})
    if any(not 0 <= a < rank for a in axes):
        raise ctx.unsupported(op, f"axes {[int(a) for a in raw]} are out of range for a {rank}-D input")
    kept = [k for k in range(rank) if k not in axes]
    out_strides = [0] * rank
    for k, s in zip(kept, contiguous_strides([x.shape[k] for k in kept])):
        out_strides[k] = s
    count = 1
    for a in axes:
        count *= int(x.shape[a])
    if count == 0 or y.size != x.size // count:
        raise ctx.unsupported(op, f"output {list(y.shape)} does not match a reduction of {list(x.shape)} over {axes}")
    dims, (in_s, o_s) = merge_axes(list(x.shape), contiguous_strides(x.shape), out_strides)
    padded = pad6(dims, in_s, o_s)
    if padded is None:
        raise ctx.unsupported(op, "the reduction needs more than 6 dimensions")
    d6, (_, os6) = padded
    fields: dict[str, object] = {"dims": c_array(d6), "out_strides": c_array(os6), "out_count": y.size,
                                 "count": count, "in_zp": 0, "out_zp": 0, "multiplier": 0, "shift": 0}
    return Reduction(fields, count, y.size)


def _struct(fields: dict[str, object]) -> str:
    return "static const td_mean_params p = {" + ", ".join(f".{k} = {v}" for k, v in fields.items()) + "};"


def _operands(op: Operator, ctx: LoweringContext) -> tuple[Tensor, Tensor]:
    x, y = ctx.input(op, 0), ctx.output(op, 0)
    dtypes = REDUCE_DTYPES[op.opcode]
    if x.dtype != y.dtype or x.dtype not in dtypes:
        raise ctx.unsupported(op, f"{op.opcode} from {x.dtype} to {y.dtype}: TFLite Micro and aot run it on "
                                  f"{', '.join(dtypes)} with one type in and out; quantize the model to int8")
    return x, y


@lowering("REDUCE_MAX", "REDUCE_MIN")
def lower_reduce_max_min(op: Operator, ctx: LoweringContext) -> None:
    x, y = _operands(op, ctx)
    r = reduction(op, ctx, x, y)
    if x.dtype == "int8":
        check_quantized(op, ctx, x, y)
        if scale_zp(x) != scale_zp(y):
            raise ctx.unsupported(op, f"int8 {op.opcode} needs one quantization for input and output (has "
                                      f"{scale_zp(x)} -> {scale_zp(y)}); TFLM rejects it too: re-convert the model")
    sign = 1 if op.opcode == "REDUCE_MAX" else -1
    ctx.kernel("mean")
    ctx.kernel("reduce_min_max")
    ctx.emit(f"{{\n  {_struct(r.fields)}\n  td_reduce_min_max_{SUFFIX[x.dtype]}({ctx.ptr(x)}, {ctx.ptr(y)}, &p, {sign});\n}}")


@lowering("SUM")
def lower_sum(op: Operator, ctx: LoweringContext) -> None:
    x, y = _operands(op, ctx)
    r = reduction(op, ctx, x, y)
    ctx.kernel("mean")
    ctx.kernel("sum")
    if x.dtype == "float32":
        ctx.emit(f"{{\n  {_struct(r.fields)}\n  td_sum_f32({ctx.ptr(x)}, {ctx.ptr(y)}, &p);\n}}")
        return
    check_quantized(op, ctx, x, y)
    sx, zx = scale_zp(x)
    sy, zy = scale_zp(y)
    m, sh = quantize_multiplier(sx / sy)
    r.fields.update({"in_zp": zx, "out_zp": zy, "multiplier": m, "shift": sh})
    acc = ctx.scratch(op, 4 * r.out_count)
    fn = "td_mean_s8" if x.dtype == "int8" else "td_sum_s16"
    ctx.emit(f"{{\n  {_struct(r.fields)}\n  {fn}({ctx.ptr(x)}, {ctx.ptr(y)}, (int32_t *){acc}, &p);\n}}")


@lowering("ARG_MAX", "ARG_MIN")
def lower_arg_max_min(op: Operator, ctx: LoweringContext) -> None:
    x, y = ctx.input(op, 0), ctx.output(op, 0)
    if x.dtype not in ("int8", "float32") or y.dtype != "int32":
        raise ctx.unsupported(op, f"{op.opcode} from {x.dtype} to {y.dtype}: TFLite Micro and aot take int8 or "
                                  "float32 and give int32 indices; convert with output_type=tf.int32")
    axis_values = const_ints(op, ctx, 1, "axis").reshape(-1)
    rank = len(x.shape)
    if axis_values.size != 1 or not -rank <= int(axis_values[0]) < rank:
        raise ctx.unsupported(op, f"axis {axis_values.tolist()} must be one axis of the {rank}-D input")
    axis = int(axis_values[0]) % rank
    outer = 1
    for d in x.shape[:axis]:
        outer *= int(d)
    inner = 1
    for d in x.shape[axis + 1:]:
        inner *= int(d)
    if y.size != outer * inner:
        raise ctx.unsupported(op, f"output {list(y.shape)} does not match {list(x.shape)} without axis {axis}")
    sign = 1 if op.opcode == "ARG_MAX" else -1
    ctx.kernel("arg_min_max")
    ctx.emit(f"td_arg_min_max_{SUFFIX[x.dtype]}({ctx.ptr(x)}, {ctx.ptr(y)}, {outer}, {int(x.shape[axis])}, {inner}, "
             f"{sign});")
