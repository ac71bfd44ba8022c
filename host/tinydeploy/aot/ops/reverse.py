"""REVERSE_V2 (float32, int32, int16, int8, uint8, int64, bool; up to 6-D) as one strided copy.

Reversing axis k reads it with stride -stride_k from offset (dim_k - 1) * stride_k; contiguous reversed
axes merge into one backwards run.  TFLite Micro refuses non-contiguous axes at run time; they are well
defined, and this lowering runs them too.
"""

from __future__ import annotations

import numpy as np

from tinydeploy.aot.lowering import LoweringContext, lowering
from tinydeploy.aot.ops.shape_ops import check_same_type, normalize_axis
from tinydeploy.aot.ops.transpose import MAX_DIMS, const_ints, contiguous_strides, emit_strided_copy
from tinydeploy.model.graph import Operator

TYPES = ("float32", "int32", "int16", "int8", "uint8", "int64", "bool")


@lowering("REVERSE_V2")
def lower_reverse_v2(op: Operator, ctx: LoweringContext) -> None:
    x, y = ctx.input(op, 0), ctx.output(op, 0)
    check_same_type(op, ctx, x, y)
    if x.dtype not in TYPES:
        raise ctx.unsupported(op, f"type {x.dtype}; TFLite Micro's REVERSE_V2 runs {', '.join(TYPES)}")
    if ctx.input(op, 1).dtype != "int32":
        raise ctx.unsupported(op, "the axes must be int32 (as TFLite Micro requires)")
    rank = len(x.shape)
    if rank > MAX_DIMS:
        raise ctx.unsupported(op, f"{rank}-D tensors are not supported (at most 6-D)")
    axes = [normalize_axis(op, ctx, int(a), rank) for a in np.asarray(const_ints(op, ctx, 1, "axes")).reshape(-1)]
    if len(set(axes)) != len(axes):
        raise ctx.unsupported(op, f"axes {axes} repeat an axis")
    if tuple(x.shape) != tuple(y.shape):
        raise ctx.unsupported(op, f"output {list(y.shape)} differs from input {list(x.shape)}")
    if y.size == 0:
        return
    strides = contiguous_strides(x.shape)
    offset = sum((int(x.shape[a]) - 1) * strides[a] for a in axes)
    read = [-s if k in axes else s for k, s in enumerate(strides)]
    emit_strided_copy(op, ctx, ctx.ptr(x), ctx.ptr(y), x.numpy_dtype.itemsize, [int(d) for d in x.shape], read,
                      offset)
