"""Pure data-movement ops as one strided gather each (td_strided_copy, strided_slice.c), plus FILL-like ops.

SLICE, SPLIT, SPLIT_V, UNPACK, TILE and BROADCAST_TO read their input through per-axis strides (zero strides
repeat, offsets select); PACK writes each input into its slot like CONCATENATION; ZEROS_LIKE and FILL set
one value (fill.c).  None of these requantizes: TFLite Micro copies int8 codes unchanged and requires one
quantization for input and output, as do we.  TILE has no TFLite Micro kernel; tiling is an exact copy, so
the aot runtime runs it (the `tflm` runtime cannot).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tinydeploy.aot.codegen import C_TYPES
from tinydeploy.aot.lowering import LoweringContext, lowering
from tinydeploy.aot.ops.transpose import const_ints, contiguous_strides, emit_strided_copy
from tinydeploy.model.graph import Operator, Tensor


def normalize_axis(op: Operator, ctx: LoweringContext, axis: int, rank: int) -> int:
    """A possibly negative axis as 0..rank-1 (a clear error when it is out of range)."""
    if not -rank <= axis < rank:
        raise ctx.unsupported(op, f"axis {axis} is out of range for a {rank}-D tensor")
    return axis + rank if axis < 0 else axis


def check_same_type(op: Operator, ctx: LoweringContext, x: Tensor, y: Tensor) -> None:
    """Input and output share the element type (and for quantized tensors, TFLM's one quantization)."""
    if x.dtype != y.dtype or x.dtype not in C_TYPES:
        raise ctx.unsupported(op, f"input '{x.name}' is {x.dtype} and output '{y.name}' is {y.dtype}; "
                                  "the op copies values and needs one supported element type for both")


def copy_along(op: Operator, ctx: LoweringContext, x: Tensor, y: Tensor, dims: Sequence[int],
               axis: int, start: int) -> None:
    """y (dense, `dims` elements) = x from index `start` along `axis`, every other axis whole."""
    check_same_type(op, ctx, x, y)
    if y.size == 0:
        return
    strides = contiguous_strides(x.shape)
    emit_strided_copy(op, ctx, ctx.ptr(x), ctx.ptr(y), x.numpy_dtype.itemsize, dims, strides,
                      start * strides[axis])


def _axis_operand(op: Operator, ctx: LoweringContext, index: int, rank: int) -> int:
    values = const_ints(op, ctx, index, "axis").reshape(-1)
    if values.size != 1:
        raise ctx.unsupported(op, f"the axis operand must hold one value, not {values.size}")
    return normalize_axis(op, ctx, int(values[0]), rank)


def _split_outputs(op: Operator, ctx: LoweringContext, x: Tensor, axis: int, sizes: Sequence[int]) -> None:
    outputs = [ctx.output(op, i) for i in range(len(op.outputs))]
    if len(sizes) != len(outputs) or sum(sizes) != x.shape[axis]:
        raise ctx.unsupported(op, f"splits {list(sizes)} of axis {axis} (size {x.shape[axis]}) do not match "
                                  f"the {len(outputs)} outputs")
    start = 0
    for y, size in zip(outputs, sizes):
        dims = [int(d) for d in x.shape]
        dims[axis] = int(size)
        if int(np.prod(dims)) != y.size:
            raise ctx.unsupported(op, f"output '{y.name}' {list(y.shape)} does not hold a {dims} piece")
        copy_along(op, ctx, x, y, dims, axis, start)
        start += int(size)


@lowering("SPLIT")
def lower_split(op: Operator, ctx: LoweringContext) -> None:
    x = ctx.input(op, 1)
    axis = _axis_operand(op, ctx, 0, len(x.shape))
    n = len(op.outputs)
    if x.shape[axis] % n:
        raise ctx.unsupported(op, f"axis {axis} of size {x.shape[axis]} does not split into {n} equal parts")
    _split_outputs(op, ctx, x, axis, [x.shape[axis] // n] * n)


@lowering("SPLIT_V")
def lower_split_v(op: Operator, ctx: LoweringContext) -> None:
    x = ctx.input(op, 0)
    axis = _axis_operand(op, ctx, 2, len(x.shape))
    sizes = [int(s) for s in const_ints(op, ctx, 1, "size_splits").reshape(-1)]
    if sizes.count(-1) == 1:  # one size inferred from the rest, as TFLite allows
        sizes[sizes.index(-1)] = int(x.shape[axis]) - (sum(sizes) + 1)
    _split_outputs(op, ctx, x, axis, sizes)


@lowering("UNPACK")
def lower_unpack(op: Operator, ctx: LoweringContext) -> None:
    x = ctx.input(op, 0)
    axis = normalize_axis(op, ctx, int(op.options.get("axis", 0)), len(x.shape))
    if len(op.outputs) != x.shape[axis]:
        raise ctx.unsupported(op, f"{len(op.outputs)} outputs for axis {axis} of size {x.shape[axis]}")
    dims = [int(d) for d in x.shape]
    dims[axis] = 1
    for i in range(len(op.outputs)):
        copy_along(op, ctx, x, ctx.output(op, i), dims, axis, i)


@lowering("SLICE")
def lower_slice(op: Operator, ctx: LoweringContext) -> None:
    x, y = ctx.input(op, 0), ctx.output(op, 0)
    rank = len(x.shape)
    begin = [int(v) for v in const_ints(op, ctx, 1, "begin").reshape(-1)]
    size = [int(v) for v in const_ints(op, ctx, 2, "size").reshape(-1)]
    if len(begin) != rank or len(size) != rank:
        raise ctx.unsupported(op, f"begin and size must have one entry per input axis ({rank})")
    dims = [int(x.shape[k]) - begin[k] if size[k] == -1 else size[k] for k in range(rank)]
    if any(b < 0 or d < 0 or b + d > x.shape[k] for k, (b, d) in enumerate(zip(begin, dims))):
        raise ctx.unsupported(op, f"slice begin {begin} size {size} leaves the input {list(x.shape)}")
    if tuple(dims) != tuple(y.shape):
        raise ctx.unsupported(op, f"output {list(y.shape)} differs from the slice {dims}")
    check_same_type(op, ctx, x, y)
    if y.size == 0:
        return
    strides = contiguous_strides(x.shape)
    emit_strided_copy(op, ctx, ctx.ptr(x), ctx.ptr(y), x.numpy_dtype.itemsize, dims, strides,
                      sum(b * s for b, s in zip(begin, strides)))


@lowering("PACK")
def lower_pack(op: Operator, ctx: LoweringContext) -> None:
    y = ctx.output(op, 0)
    inputs = [ctx.input(op, i) for i in range(len(op.inputs))]
    axis = normalize_axis(op, ctx, int(op.options.get("axis", 0)), len(y.shape))
    for t in inputs:
        check_same_type(op, ctx, t, y)
        expected = [d for k, d in enumerate(y.shape) if k != axis]
        if list(t.shape) != expected or y.shape[axis] != len(inputs):
            raise ctx.unsupported(op, f"input '{t.name}' {list(t.shape)} does not stack into {list(y.shape)} "
                                      f"along axis {axis}")
    if y.size == 0:
        return
    elem = y.numpy_dtype.itemsize
    outer = int(np.prod(y.shape[:axis], dtype=np.int64))
    chunk = int(np.prod(y.shape[axis + 1:], dtype=np.int64)) * elem
    ctx.kernel("concatenation")
    dst = ctx.ptr(y, "uint8_t")
    for i, t in enumerate(inputs):
        ctx.emit(f"td_concat_part({ctx.ptr(t)}, {dst} + {i * chunk}, {outer}, {chunk}, {len(inputs) * chunk});")


def _broadcast_view(op: Operator, ctx: LoweringContext, x: Tensor, out_shape: Sequence[int]) -> list[int]:
    """Strides reading x broadcast (numpy rules, aligned right) to out_shape: 0 on repeated axes."""
    rank = len(out_shape)
    if len(x.shape) > rank:
        raise ctx.unsupported(op, f"input {list(x.shape)} has more axes than the output {list(out_shape)}")
    in_shape = [1] * (rank - len(x.shape)) + [int(d) for d in x.shape]
    if any(i != o and i != 1 for i, o in zip(in_shape, out_shape)):
        raise ctx.unsupported(op, f"input {list(x.shape)} does not broadcast to {list(out_shape)}")
    strides = contiguous_strides(in_shape)
    return [0 if i == 1 else s for i, s in zip(in_shape, strides)]


@lowering("BROADCAST_TO")
def lower_broadcast_to(op: Operator, ctx: LoweringContext) -> None:
    x, y = ctx.input(op, 0), ctx.output(op, 0)
    check_same_type(op, ctx, x, y)
    strides = _broadcast_view(op, ctx, x, y.shape)
    if y.size:
        emit_strided_copy(op, ctx, ctx.ptr(x), ctx.ptr(y), x.numpy_dtype.itemsize, list(y.shape), strides, 0)


def tile_view(in_shape: Sequence[int], multiples: Sequence[int]) -> tuple[list[int], list[int]]:
    """TILE as a strided view: each axis k becomes (multiples[k] with stride 0, in_shape[k] with its own)."""
    strides = contiguous_strides(in_shape)
    dims: list[int] = []
    view: list[int] = []
    for d, m, s in zip(in_shape, multiples, strides):
        dims += [int(m), int(d)]
        view += [0, s]
    return dims, view


@lowering("TILE")
def lower_tile(op: Operator, ctx: LoweringContext) -> None:
    x, y = ctx.input(op, 0), ctx.output(op, 0)
    check_same_type(op, ctx, x, y)
    multiples = [int(m) for m in const_ints(op, ctx, 1, "multiples").reshape(-1)]
    if len(multiples) != len(x.shape) or any(m < 0 for m in multiples):
        raise ctx.unsupported(op, f"multiples {multiples} do not fit a {len(x.shape)}-D input")
    if [d * m for d, m in zip(x.shape, multiples)] != list(y.shape):
        raise ctx.unsupported(op, f"output {list(y.shape)} is not the input {list(x.shape)} tiled {multiples}")
    if y.size == 0:
        return
    dims, strides = tile_view(x.shape, multiples)
    emit_strided_copy(op, ctx, ctx.ptr(x), ctx.ptr(y), x.numpy_dtype.itemsize, dims, strides, 0)


FILL_TYPES = ("float32", "int8", "int32", "int64", "bool")


def emit_fill(op: Operator, ctx: LoweringContext, y: Tensor, value_ptr: str) -> None:
    if y.size == 0:
        return
    ctx.kernel("fill")
    ctx.emit(f"td_fill({ctx.ptr(y)}, {y.numpy_dtype.itemsize}, {y.size}, {value_ptr});")


@lowering("ZEROS_LIKE")
def lower_zeros_like(op: Operator, ctx: LoweringContext) -> None:
    x, y = ctx.input(op, 0), ctx.output(op, 0)
    check_same_type(op, ctx, x, y)
    if x.dtype not in ("int32", "int64", "float32"):
        raise ctx.unsupported(op, f"type {x.dtype}: TFLite Micro's ZEROS_LIKE runs on int32, int64 and float32 "
                                  "only; use FILL with the zero point, or keep this part of the model in float32")
    zero = ctx.const("zero", np.zeros(1, dtype=y.numpy_dtype), C_TYPES[y.dtype])
    emit_fill(op, ctx, y, zero)


@lowering("FILL")
def lower_fill(op: Operator, ctx: LoweringContext) -> None:
    value, y = ctx.input(op, 1), ctx.output(op, 0)
    check_same_type(op, ctx, value, y)
    if value.size != 1:
        raise ctx.unsupported(op, f"the value operand '{value.name}' must be a scalar, not {list(value.shape)}")
    if y.dtype not in FILL_TYPES:
        raise ctx.unsupported(op, f"type {y.dtype}: TFLite Micro's FILL runs on {', '.join(FILL_TYPES)} only")
    dims = const_ints(op, ctx, 0, "dims").reshape(-1)
    if [int(d) for d in dims] != list(y.shape):
        raise ctx.unsupported(op, f"dims {dims.tolist()} differ from the output shape {list(y.shape)}")
    emit_fill(op, ctx, y, ctx.ptr(value))

