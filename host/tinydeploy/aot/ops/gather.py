"""GATHER (any axis, batch_dims, int32/int64 indices) and GATHER_ND (int32 indices), as TFLite Micro runs them.

Both copy whole slices (gather.c); the indices may be computed at run time (embedding lookups read them from
the model input).  Types are TFLM's: GATHER params float32/int8 with int32 indices,
GATHER_ND params float32/int8 with int32 indices.  With constant params and indices the op folds at generation
time (aot/fold.py).  An index out of range fails TFLM's inference; here it yields a zero slice, never a read
outside the table.
"""

from __future__ import annotations

import numpy as np

from tinydeploy.aot.lowering import LoweringContext, lowering
from tinydeploy.aot.ops.shape_ops import check_same_type, normalize_axis
from tinydeploy.aot.ops.transpose import contiguous_strides
from tinydeploy.model.graph import Operator

PARAM_TYPES = ("float32", "int8")
ND_PARAM_TYPES = ("float32", "int8")
MAX_ND_DEPTH = 8


def _prod(values: object) -> int:
    return int(np.prod(np.asarray(values, dtype=np.int64)))


@lowering("GATHER")
def lower_gather(op: Operator, ctx: LoweringContext) -> None:
    params, indices, y = ctx.input(op, 0), ctx.input(op, 1), ctx.output(op, 0)
    check_same_type(op, ctx, params, y)
    if params.dtype not in PARAM_TYPES or indices.dtype != "int32":
        raise ctx.unsupported(op, f"params {params.dtype} with {indices.dtype} indices: TFLite Micro gathers "
                                  f"{'/'.join(PARAM_TYPES)} with int32 indices (cast the indices to int32 before "
                                  "converting)")
    rank = len(params.shape)
    axis = normalize_axis(op, ctx, int(op.options.get("axis", 0)), rank)
    batch_dims = int(op.options.get("batch_dims", 0))
    batch_dims = batch_dims + len(indices.shape) if batch_dims < 0 else batch_dims
    if not 0 <= batch_dims <= axis or list(params.shape[:batch_dims]) != list(indices.shape[:batch_dims]):
        raise ctx.unsupported(op, f"batch_dims {batch_dims} does not fit params {list(params.shape)}, "
                                  f"indices {list(indices.shape)} and axis {axis}")
    expected = list(params.shape[:axis]) + list(indices.shape[batch_dims:]) + list(params.shape[axis + 1:])
    if expected != list(y.shape):
        raise ctx.unsupported(op, f"output {list(y.shape)} differs from the gathered {expected}")
    if y.size == 0:
        return
    geom = ctx.struct("gather", "td_gather_geom", {
        "batch": _prod(params.shape[:batch_dims]),
        "outer": _prod(params.shape[batch_dims:axis]),
        "axis_size": int(params.shape[axis]),
        "coords": _prod(indices.shape[batch_dims:]),
        "inner_bytes": _prod(params.shape[axis + 1:]) * params.numpy_dtype.itemsize,
        "index_bytes": indices.numpy_dtype.itemsize,
    })
    ctx.kernel("gather")
    ctx.emit(f"td_gather({ctx.ptr(params)}, {ctx.ptr(indices)}, {ctx.ptr(y)}, {geom});")


@lowering("GATHER_ND")
def lower_gather_nd(op: Operator, ctx: LoweringContext) -> None:
    params, indices, y = ctx.input(op, 0), ctx.input(op, 1), ctx.output(op, 0)
    check_same_type(op, ctx, params, y)
    if params.dtype not in ND_PARAM_TYPES or indices.dtype != "int32":
        raise ctx.unsupported(op, f"params {params.dtype} with {indices.dtype} indices: TFLite Micro's GATHER_ND "
                                  f"runs {'/'.join(ND_PARAM_TYPES)} params with int32 indices")
    if not indices.shape:
        raise ctx.unsupported(op, "the indices must have at least one axis")
    depth = int(indices.shape[-1])
    if not 1 <= depth <= min(len(params.shape), MAX_ND_DEPTH):
        raise ctx.unsupported(op, f"index depth {depth} does not fit params {list(params.shape)} "
                                  f"(at most {MAX_ND_DEPTH})")
    expected = list(indices.shape[:-1]) + list(params.shape[depth:])
    if expected != list(y.shape):
        raise ctx.unsupported(op, f"output {list(y.shape)} differs from the gathered {expected}")
    if y.size == 0:
        return
    elem = params.numpy_dtype.itemsize
    strides = [s * elem for s in contiguous_strides(params.shape)]
    pad = MAX_ND_DEPTH - depth
    geom = ctx.struct("gather_nd", "td_gather_nd_geom", {
        "n_slices": _prod(indices.shape[:-1]),
        "depth": depth,
        "slice_bytes": _prod(params.shape[depth:]) * elem,
        "dims": "{" + ", ".join(str(int(d)) for d in list(params.shape[:depth]) + [0] * pad) + "}",
        "strides": "{" + ", ".join(str(int(s)) for s in strides[:depth] + [0] * pad) + "}",
    })
    ctx.kernel("gather")
    ctx.emit(f"td_gather_nd({ctx.ptr(params)}, {ctx.ptr(indices)}, {ctx.ptr(y)}, {geom});")
