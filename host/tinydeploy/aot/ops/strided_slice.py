"""STRIDED_SLICE (any element type, up to 6-D, masks, negative strides) as one strided gather.

Start and stop per axis follow TFLite's strided_slice_logic (StartForAxis / StopForAxis) exactly: masks
override the bounds, negative indices count from the end, then the bounds are clamped ([0, size] for a
positive stride, [-1, size-1] for a negative one).  A shrunk axis takes exactly the element at start.
"""

from __future__ import annotations

from tinydeploy.aot.lowering import LoweringContext, lowering
from tinydeploy.aot.ops.transpose import const_ints, contiguous_strides, emit_strided_copy
from tinydeploy.model.graph import Operator

INT_MIN, INT_MAX = -(1 << 31), (1 << 31) - 1


def _clamp(v: int, lo: int, hi: int) -> int:
    return max(lo, min(hi, v))


def start_for_axis(begin: int, stride: int, size: int, masked: bool) -> int:
    if size == 0:
        return 0
    start = begin
    if masked:
        start = INT_MIN if stride > 0 else INT_MAX
    if start < 0:
        start += size
    return _clamp(start, 0, size) if stride > 0 else _clamp(start, -1, size - 1)


def stop_for_axis(end: int, stride: int, size: int, masked: bool, shrink: bool, start: int) -> int:
    if size == 0:
        return 0
    if shrink:
        return start + 1
    stop = end
    if masked:
        stop = INT_MAX if stride > 0 else INT_MIN
    if stop < 0:
        stop += size
    return _clamp(stop, 0, size) if stride > 0 else _clamp(stop, -1, size - 1)


@lowering("STRIDED_SLICE")
def lower_strided_slice(op: Operator, ctx: LoweringContext) -> None:
    x, y = ctx.input(op, 0), ctx.output(op, 0)
    o = op.options
    if o.get("ellipsis_mask", 0) or o.get("new_axis_mask", 0):
        raise ctx.unsupported(op, "ellipsis_mask and new_axis_mask are not supported")
    if o.get("offset", False):
        raise ctx.unsupported(op, "the 'offset' form of STRIDED_SLICE is not supported")
    rank = len(x.shape)
    begin = [int(v) for v in const_ints(op, ctx, 1, "begin").reshape(-1)]
    end = [int(v) for v in const_ints(op, ctx, 2, "end").reshape(-1)]
    strides = [int(v) for v in const_ints(op, ctx, 3, "strides").reshape(-1)]
    if not (len(begin) == len(end) == len(strides) == rank):
        raise ctx.unsupported(op, f"begin/end/strides must have one entry per input axis ({rank})")
    if any(s == 0 for s in strides):
        raise ctx.unsupported(op, "a stride of 0 is invalid")
    counts, offset, view_strides = [], 0, []
    in_strides = contiguous_strides(x.shape)
    for k in range(rank):
        size = int(x.shape[k])
        start = start_for_axis(begin[k], strides[k], size, bool(o.get("begin_mask", 0) >> k & 1))
        stop = stop_for_axis(end[k], strides[k], size, bool(o.get("end_mask", 0) >> k & 1),
                             bool(o.get("shrink_axis_mask", 0) >> k & 1), start)
        counts.append(len(range(start, stop, strides[k])))
        offset += start * in_strides[k] if counts[-1] else 0
        view_strides.append(strides[k] * in_strides[k])
    total = 1
    for c in counts:
        total *= c
    if total != y.size or x.dtype != y.dtype:
        raise ctx.unsupported(op, f"the slice has {total} elements but the output {list(y.shape)} has {y.size}")
    if total == 0:
        return
    emit_strided_copy(op, ctx, ctx.ptr(x), ctx.ptr(y), x.numpy_dtype.itemsize, counts, view_strides, offset)
