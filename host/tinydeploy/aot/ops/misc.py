"""ADD_N, SIN, COS, FLOOR_DIV, FLOOR_MOD, LOGICAL_AND/OR/NOT, REDUCE_ALL, DYNAMIC_UPDATE_SLICE, BROADCAST_ARGS and
SHAPE (when not folded at build time), bit-exact with TFLite Micro.

dtypes are TFLM's (checked against its kernels' Prepare/Eval and by running its host interpreter):
ADD_N float32 and int8 (all inputs of one quantization); SIN, COS, FLOOR_DIV, FLOOR_MOD float32 only; the
logical ops and REDUCE_ALL bool only; DYNAMIC_UPDATE_SLICE float32, int8, int16, int32 with int32 or int64
start indices; BROADCAST_ARGS int32 or int64; SHAPE to int32 only.

ADD_N int8 replays TFLM's AddN (add_n.cc): left shift 20, the input multiplier 0.5 and the output
multiplier 2 in_scale / (2^20 out_scale), both through QuantizeMultiplierSmallerThanOneExp, in double
from the float32 scales; TFLM's accumulator starts from the rescaled input offset (not 0), which the
kernel does too.  FLOOR_DIV divides in double like TFLite's reference FloorDiv and fails the invoke on a
zero denominator like TFLM's Eval (model_invoke returns 1).
"""

from __future__ import annotations

import numpy as np

from tinydeploy.aot.lowering import LoweringContext, lowering
from tinydeploy.aot.ops.binary import emit_broadcast
from tinydeploy.aot.ops.elementwise import check_quantized, scale_zp
from tinydeploy.aot.ops.reduce import reduction
from tinydeploy.aot.ops.transpose import c_array
from tinydeploy.aot.quant import quantize_multiplier
from tinydeploy.model.graph import Operator, Tensor

ADD_N_LEFT_SHIFT = 20
DUS_DTYPES = ("float32", "int8", "int16", "int32")
DUS_MAX_RANK = 6


def _refuse_dtype(op: Operator, ctx: LoweringContext, got: str, dtypes: tuple[str, ...], fix: str) -> Exception:
    return ctx.unsupported(op, f"{op.opcode} on {got}: TFLite Micro and aot run it on {', '.join(dtypes)} only; "
                               f"{fix}")


# --- ADD_N ------------------------------------------------------------------------------------------------


def multiplier_smaller_than_one(real: float) -> tuple[int, int]:
    """TFLite's QuantizeMultiplierSmallerThanOneExp (a real multiplier in (0, 1))."""
    m, s = quantize_multiplier(real)
    if s > 0:
        raise ValueError(f"multiplier {real} is not below one")
    return m, s


def add_n_s8_params(x: Tensor, y: Tensor) -> dict[str, int]:
    """TFLM's ADD_N CalculateOpData for int8."""
    sx, zx = scale_zp(x)
    sy, zy = scale_zp(y)
    twice_max = 2.0 * float(np.float32(sx))
    mi, si = multiplier_smaller_than_one(float(np.float32(sx)) / twice_max)
    mo, so = multiplier_smaller_than_one(twice_max / ((1 << ADD_N_LEFT_SHIFT) * float(np.float32(sy))))
    return {"input_offset": -zx, "output_offset": zy, "left_shift": ADD_N_LEFT_SHIFT, "input_multiplier": mi,
            "input_shift": si, "output_multiplier": mo, "output_shift": so}


@lowering("ADD_N")
def lower_add_n(op: Operator, ctx: LoweringContext) -> None:
    ins = [ctx.input(op, i) for i in range(len(op.inputs))]
    y = ctx.output(op, 0)
    if len(ins) < 2:
        raise ctx.unsupported(op, f"ADD_N needs at least 2 inputs (has {len(ins)}); TFLM requires it too")
    if y.dtype not in ("float32", "int8") or any(t.dtype != y.dtype for t in ins):
        raise _refuse_dtype(op, ctx, ", ".join(sorted({t.dtype for t in [*ins, y]})), ("float32", "int8"),
                            "quantize the model to int8 or keep it float32")
    if any(tuple(t.shape) != tuple(y.shape) for t in ins):
        raise ctx.unsupported(op, f"inputs {[list(t.shape) for t in ins]} and output {list(y.shape)} must all have "
                                  "one shape (ADD_N does not broadcast)")
    for t in ins:
        ctx.allow_inplace(op, t, y)  # element i of every input is read before out[i] is written
    ctx.kernel("add_n")
    ctype = "float" if y.dtype == "float32" else "int8_t"
    table = f"const {ctype} *const ins[{len(ins)}] = {{{', '.join(ctx.ptr(t) for t in ins)}}};"
    if y.dtype == "float32":
        ctx.emit(f"{{\n  {table}\n  td_add_n_f32(ins, {len(ins)}, {y.size}, {ctx.ptr(y)});\n}}")
        return
    check_quantized(op, ctx, *ins, y)
    if len({scale_zp(t) for t in ins}) != 1:
        raise ctx.unsupported(op, f"int8 ADD_N inputs of different quantizations {sorted({scale_zp(t) for t in ins})}"
                                  "; TFLM requires one scale and zero point for all inputs: re-convert the model")
    try:
        fields = add_n_s8_params(ins[0], y)
    except ValueError as err:
        raise ctx.unsupported(op, f"int8 ADD_N rescaling: {err}") from None
    params = ctx.struct("add_n", "td_add_n_s8_params", fields)
    ctx.emit(f"{{\n  {table}\n  td_add_n_s8(ins, {len(ins)}, {y.size}, {ctx.ptr(y)}, {params});\n}}")


# --- float32 unary / binary math ---------------------------------------------------------------------------


@lowering("SIN", "COS")
def lower_sin_cos(op: Operator, ctx: LoweringContext) -> None:
    x, y = ctx.input(op, 0), ctx.output(op, 0)
    if x.dtype != "float32" or y.dtype != "float32":
        raise _refuse_dtype(op, ctx, f"{x.dtype} -> {y.dtype}", ("float32",),
                            "keep this part of the model float32 (convert with --mode float32)")
    if x.size != y.size:
        raise ctx.unsupported(op, f"input {list(x.shape)} and output {list(y.shape)} differ in size")
    ctx.allow_inplace(op, x, y)
    name = op.opcode.lower()
    ctx.kernel(name)
    ctx.emit(f"td_{name}_f32({ctx.ptr(x)}, {ctx.ptr(y)}, {x.size});")


def _binary_same_dtype(op: Operator, ctx: LoweringContext, dtype: str, fix: str) -> tuple[Tensor, Tensor, Tensor]:
    a, b, y = ctx.input(op, 0), ctx.input(op, 1), ctx.output(op, 0)
    if not a.dtype == b.dtype == y.dtype == dtype:
        raise _refuse_dtype(op, ctx, f"{a.dtype}, {b.dtype} -> {y.dtype}", (dtype,), fix)
    for t in (a, b):
        if tuple(t.shape) == tuple(y.shape):
            ctx.allow_inplace(op, t, y)
    return a, b, y


@lowering("FLOOR_DIV")
def lower_floor_div(op: Operator, ctx: LoweringContext) -> None:
    a, b, y = _binary_same_dtype(op, ctx, "float32", "keep this part of the model float32")
    ctx.kernel("floor_div")
    emit_broadcast(op, ctx, a, b, y, f"if (td_floor_div_f32({{args}}, {b.size}) != 0) return 1; /* x / 0 */")


@lowering("FLOOR_MOD")
def lower_floor_mod(op: Operator, ctx: LoweringContext) -> None:
    a, b, y = _binary_same_dtype(op, ctx, "float32", "keep this part of the model float32")
    ctx.kernel("floor_mod")
    emit_broadcast(op, ctx, a, b, y, "td_floor_mod_f32({args});")


# --- bool ------------------------------------------------------------------------------------------------


@lowering("LOGICAL_AND", "LOGICAL_OR")
def lower_logical_binary(op: Operator, ctx: LoweringContext) -> None:
    a, b, y = _binary_same_dtype(op, ctx, "bool", "these ops take bool tensors (comparison results)")
    ctx.kernel("logical")
    emit_broadcast(op, ctx, a, b, y, f"td_{op.opcode.lower()}_b({{args}});")


@lowering("LOGICAL_NOT")
def lower_logical_not(op: Operator, ctx: LoweringContext) -> None:
    x, y = ctx.input(op, 0), ctx.output(op, 0)
    if x.dtype != "bool" or y.dtype != "bool":
        raise _refuse_dtype(op, ctx, f"{x.dtype} -> {y.dtype}", ("bool",), "LOGICAL_NOT takes a bool tensor")
    if x.size != y.size:
        raise ctx.unsupported(op, f"input {list(x.shape)} and output {list(y.shape)} differ in size")
    ctx.allow_inplace(op, x, y)
    ctx.kernel("logical")
    ctx.emit(f"td_logical_not_b({ctx.ptr(x)}, {ctx.ptr(y)}, {x.size});")


@lowering("REDUCE_ALL")
def lower_reduce_all(op: Operator, ctx: LoweringContext) -> None:
    x, y = ctx.input(op, 0), ctx.output(op, 0)
    if x.dtype != "bool" or y.dtype != "bool":
        raise _refuse_dtype(op, ctx, f"{x.dtype} -> {y.dtype}", ("bool",), "REDUCE_ALL takes a bool tensor")
    r = reduction(op, ctx, x, y)
    ctx.kernel("mean")
    ctx.kernel("reduce_all")
    fields = ", ".join(f".{k} = {v}" for k, v in r.fields.items())
    ctx.emit(f"{{\n  static const td_mean_params p = {{{fields}}};\n  td_reduce_all_b({ctx.ptr(x)}, {ctx.ptr(y)}, &p);\n}}")


# --- shapes and slices ---------------------------------------------------------------------------------


@lowering("DYNAMIC_UPDATE_SLICE")
def lower_dynamic_update_slice(op: Operator, ctx: LoweringContext) -> None:
    operand, update, indices, y = ctx.input(op, 0), ctx.input(op, 1), ctx.input(op, 2), ctx.output(op, 0)
    if not operand.dtype == update.dtype == y.dtype or y.dtype not in DUS_DTYPES:
        raise _refuse_dtype(op, ctx, f"{operand.dtype}, {update.dtype} -> {y.dtype}", DUS_DTYPES,
                            "quantize the model to int8 or keep it float32")
    if indices.dtype not in ("int32", "int64"):
        raise ctx.unsupported(op, f"start indices of type {indices.dtype}: TFLM takes int32 or int64")
    rank = len(operand.shape)
    if not 1 <= rank <= DUS_MAX_RANK:
        raise ctx.unsupported(op, f"operand rank {rank}: TFLM's kernel handles 1 to {DUS_MAX_RANK} dimensions")
    if len(update.shape) != rank or any(u > o for u, o in zip(update.shape, operand.shape)):
        raise ctx.unsupported(op, f"update {list(update.shape)} must have the operand's rank and fit inside "
                                  f"{list(operand.shape)}")
    if len(indices.shape) != 1 or indices.size != rank:
        raise ctx.unsupported(op, f"start indices {list(indices.shape)} must be a vector of {rank} values")
    if tuple(y.shape) != tuple(operand.shape):
        raise ctx.unsupported(op, f"output {list(y.shape)} must have the operand's shape {list(operand.shape)}")
    ctx.allow_inplace(op, operand, y)  # the kernel skips the operand copy when they are the same bytes
    pad = [0] * (DUS_MAX_RANK - rank)
    params = ctx.struct("dus", "td_dus_params", {
        "rank": rank, "elem_bytes": y.nbytes // max(1, y.size),
        "operand_dims": c_array([*operand.shape, *pad]), "update_dims": c_array([*update.shape, *pad]),
        "indices_64": int(indices.dtype == "int64")})
    ctx.kernel("dynamic_update_slice")
    ctx.emit(f"td_dynamic_update_slice({ctx.ptr(operand)}, {ctx.ptr(update)}, {ctx.ptr(indices)}, {ctx.ptr(y)}, "
             f"{params});")


@lowering("BROADCAST_ARGS")
def lower_broadcast_args(op: Operator, ctx: LoweringContext) -> None:
    a, b, y = ctx.input(op, 0), ctx.input(op, 1), ctx.output(op, 0)
    if not a.dtype == b.dtype == y.dtype or y.dtype not in ("int32", "int64"):
        raise _refuse_dtype(op, ctx, f"{a.dtype}, {b.dtype} -> {y.dtype}", ("int32", "int64"),
                            "shape vectors are int32 or int64")
    if len(a.shape) != 1 or len(b.shape) != 1 or len(y.shape) != 1 or y.size != max(a.size, b.size):
        raise ctx.unsupported(op, f"shapes {list(a.shape)}, {list(b.shape)} -> {list(y.shape)}: two shape vectors "
                                  "broadcast into one as long as the longer")
    suffix = "i32" if y.dtype == "int32" else "i64"
    ctx.kernel("broadcast_args")
    ctx.emit(f"if (td_broadcast_args_{suffix}({ctx.ptr(a)}, {a.size}, {ctx.ptr(b)}, {b.size}, {ctx.ptr(y)}, "
             f"{y.size}) != 0) return 1; /* shapes that do not broadcast */")


@lowering("SHAPE")
def lower_shape(op: Operator, ctx: LoweringContext) -> None:
    """A SHAPE the folder left (its output is a model output): the static shape, copied from flash."""
    x, y = ctx.input(op, 0), ctx.output(op, 0)
    if y.dtype != "int32":
        raise _refuse_dtype(op, ctx, f"-> {y.dtype}", ("int32",), "convert with out_type=tf.int32")
    if y.size != len(x.shape):
        raise ctx.unsupported(op, f"output {list(y.shape)} cannot hold the {len(x.shape)} dimensions of "
                                  f"{list(x.shape)}")
    ctx.kernel("copy")
    shape = ctx.const("shape", np.array(list(x.shape) or [0], dtype=np.int32), "int32_t")
    ctx.emit(f"td_copy_bytes({ctx.ptr(y)}, {shape}, {4 * y.size}u);")
