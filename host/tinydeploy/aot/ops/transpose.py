"""TRANSPOSE (any element type, up to 6-D) as one strided gather, plus the N-D view helpers the shape ops share.

A dense row-major tensor read through per-axis strides covers TRANSPOSE (permuted strides), STRIDED_SLICE
(scaled and offset strides), broadcasting (zero strides) and reductions (zero output strides).  The
helpers here reduce such a view to the fixed 6-D form the C kernels take, merging axes that are contiguous
in every operand so that the innermost kernel loop is as long as possible.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tinydeploy.aot.lowering import LoweringContext, lowering
from tinydeploy.model.graph import Operator

MAX_DIMS = 6


def contiguous_strides(shape: Sequence[int]) -> list[int]:
    """Row-major element strides of a dense tensor."""
    strides, step = [], 1
    for d in reversed(shape):
        strides.append(step)
        step *= int(d)
    return strides[::-1]


def merge_axes(dims: Sequence[int], *strides: Sequence[int]) -> tuple[list[int], list[list[int]]]:
    """Drop size-1 axes and merge neighbours that are contiguous in every stride set.

    Axis k folds into k+1 when, for every operand, strides[k] == strides[k+1] * dims[k+1]: iterating the
    merged axis then visits the same elements in the same order.
    """
    kept = [k for k, d in enumerate(dims) if d != 1]
    out_dims: list[int] = []
    out_strides: list[list[int]] = [[] for _ in strides]
    for k in kept:
        if out_dims and all(s_out[-1] == s[k] * dims[k] for s_out, s in zip(out_strides, strides)):
            out_dims[-1] *= int(dims[k])
            for s_out, s in zip(out_strides, strides):
                s_out[-1] = int(s[k])
            continue
        out_dims.append(int(dims[k]))
        for s_out, s in zip(out_strides, strides):
            s_out.append(int(s[k]))
    return out_dims, out_strides


def pad6(dims: Sequence[int], *strides: Sequence[int]) -> tuple[list[int], list[list[int]]] | None:
    """Left-pad a view to exactly 6 axes (size 1, stride 0); None when it has more than 6."""
    if len(dims) > MAX_DIMS:
        return None
    extra = MAX_DIMS - len(dims)
    return [1] * extra + list(dims), [[0] * extra + list(s) for s in strides]


def c_array(values: Sequence[int]) -> str:
    """A brace initializer for a fixed-size int32 array field."""
    return "{" + ", ".join(str(int(v)) for v in values) + "}"


def emit_strided_copy(op: Operator, ctx: LoweringContext, src: str, dst: str, elem_size: int,
                      dims: Sequence[int], strides: Sequence[int], offset: int) -> None:
    """Emit td_strided_copy for the dense output over `dims` read from src at offset + sum(i_k*strides_k)."""
    merged_dims, (merged_strides,) = merge_axes(dims, strides)
    padded = pad6(merged_dims, merged_strides)
    if padded is None:
        raise ctx.unsupported(op, f"the access pattern needs {len(merged_dims)} dimensions; at most 6 are supported")
    d6, (s6,) = padded
    ctx.kernel("strided_slice")
    ctx.emit("{\n"
             f"  static const td_strided6 view = {{{c_array(d6)}, {c_array(s6)}, {int(offset)}}};\n"
             f"  td_strided_copy({src}, {dst}, {elem_size}, &view);\n"
             "}")


def const_ints(op: Operator, ctx: LoweringContext, index: int, what: str) -> np.ndarray:
    """A constant integer operand (permutation, paddings, axes, slice bounds) as int64."""
    t = ctx.input(op, index)
    if t.data is None:
        raise ctx.unsupported(op, f"the {what} must be a constant tensor")
    return np.asarray(t.data).astype(np.int64).reshape(-1 if t.data.ndim <= 1 else t.data.shape)


@lowering("TRANSPOSE")
def lower_transpose(op: Operator, ctx: LoweringContext) -> None:
    x, y = ctx.input(op, 0), ctx.output(op, 0)
    perm = [int(p) for p in const_ints(op, ctx, 1, "permutation").reshape(-1)]
    rank = len(x.shape)
    perm = [p + rank if p < 0 else p for p in perm]
    if sorted(perm) != list(range(rank)):
        raise ctx.unsupported(op, f"permutation {perm} is not a permutation of {rank} axes")
    if rank > MAX_DIMS:
        raise ctx.unsupported(op, f"{rank}-D tensors are not supported (at most 6-D)")
    out_dims = [int(x.shape[p]) for p in perm]
    if tuple(out_dims) != tuple(y.shape) or x.dtype != y.dtype:
        raise ctx.unsupported(op, f"output {y.dtype}{list(y.shape)} does not match the permuted input")
    in_strides = contiguous_strides(x.shape)
    if y.size == 0:
        return
    emit_strided_copy(op, ctx, ctx.ptr(x), ctx.ptr(y), x.numpy_dtype.itemsize, out_dims,
                      [in_strides[p] for p in perm], 0)
