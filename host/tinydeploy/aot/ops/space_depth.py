"""DEPTH_TO_SPACE, SPACE_TO_DEPTH, SPACE_TO_BATCH_ND, BATCH_TO_SPACE_ND as strided gathers (strided_slice.c).

Each is a fixed permutation of NHWC elements; written as a 6-D view (batch, row, row-in-block, column,
column-in-block, channel) it is one td_strided_copy.  SPACE_TO_BATCH_ND first pads into scratch with the
output's zero point (0.0 for float), as LiteRT's kernel does: TFLite Micro's kernel pads int8 with a pad
value it never initializes (whatever its persistent buffer held), so there is no TFLM behaviour to match
for padded int8 inputs and the zero point (the real value 0.0) is the one correct choice; BATCH_TO_SPACE_ND with crops
first rearranges into scratch and then slices.  The 3-D forms (one spatial axis) run as 4-D with a height 1.
"""

from __future__ import annotations

import numpy as np

from tinydeploy.aot.codegen import C_TYPES
from tinydeploy.aot.lowering import LoweringContext, lowering
from tinydeploy.aot.ops.pad import _literal, _pad_value
from tinydeploy.aot.ops.shape_ops import check_same_type
from tinydeploy.aot.ops.transpose import c_array, const_ints, contiguous_strides, emit_strided_copy
from tinydeploy.model.graph import Operator, Tensor

TFLM_TYPES = ("float32", "int8")  # TFLM's depth/space and batch/space kernels


def _check(op: Operator, ctx: LoweringContext, x: Tensor, y: Tensor) -> None:
    check_same_type(op, ctx, x, y)
    if x.dtype not in TFLM_TYPES:
        raise ctx.unsupported(op, f"type {x.dtype}: TFLite Micro runs {op.opcode} on float32 and int8 only; "
                                  "convert the model to int8 or float32")
    if len(x.shape) != 4 and op.opcode in ("DEPTH_TO_SPACE", "SPACE_TO_DEPTH"):
        raise ctx.unsupported(op, f"input {list(x.shape)} is not 4-D (NHWC)")


def _block_size(op: Operator, ctx: LoweringContext) -> int:
    b = int(op.options.get("block_size", 0))
    if b < 1:
        raise ctx.unsupported(op, f"block_size {b} must be at least 1")
    return b


@lowering("DEPTH_TO_SPACE")
def lower_depth_to_space(op: Operator, ctx: LoweringContext) -> None:
    x, y = ctx.input(op, 0), ctx.output(op, 0)
    _check(op, ctx, x, y)
    b = _block_size(op, ctx)
    n, h, w, c = (int(d) for d in x.shape)
    if c % (b * b) or list(y.shape) != [n, h * b, w * b, c // (b * b)]:
        raise ctx.unsupported(op, f"output {list(y.shape)} is not {list(x.shape)} with block {b} moved to space")
    co = c // (b * b)
    # out[n, h*b+i, w*b+j, c'] = in[n, h, w, (i*b+j)*co + c']
    dims = [n, h, b, w, b, co]
    strides = [h * w * c, w * c, b * co, c, co, 1]
    emit_strided_copy(op, ctx, ctx.ptr(x), ctx.ptr(y), x.numpy_dtype.itemsize, dims, strides, 0)


@lowering("SPACE_TO_DEPTH")
def lower_space_to_depth(op: Operator, ctx: LoweringContext) -> None:
    x, y = ctx.input(op, 0), ctx.output(op, 0)
    _check(op, ctx, x, y)
    b = _block_size(op, ctx)
    n, h, w, c = (int(d) for d in x.shape)
    if h % b or w % b or list(y.shape) != [n, h // b, w // b, c * b * b]:
        raise ctx.unsupported(op, f"output {list(y.shape)} is not {list(x.shape)} with {b}x{b} blocks moved to depth")
    # out[n, h', w', (i*b+j)*c + c'] = in[n, h'*b+i, w'*b+j, c']
    dims = [n, h // b, w // b, b, b, c]
    strides = [h * w * c, b * w * c, b * c, w * c, c, 1]
    emit_strided_copy(op, ctx, ctx.ptr(x), ctx.ptr(y), x.numpy_dtype.itemsize, dims, strides, 0)


def _as_4d(op: Operator, ctx: LoweringContext, x: Tensor, block: np.ndarray, pairs: np.ndarray
           ) -> tuple[list[int], list[int], np.ndarray]:
    """NHWC dims, [bh, bw] and 2x2 paddings/crops of a 3-D or 4-D batch/space op."""
    if len(x.shape) == 3 and block.size == 1 and pairs.size == 2:
        return ([int(x.shape[0]), 1, int(x.shape[1]), int(x.shape[2])], [1, int(block[0])],
                np.array([[0, 0], list(pairs.reshape(-1))], dtype=np.int64))
    if len(x.shape) == 4 and block.size == 2 and pairs.size == 4:
        return [int(d) for d in x.shape], [int(v) for v in block], pairs.reshape(2, 2)
    raise ctx.unsupported(op, f"input {list(x.shape)} with block shape {block.tolist()}: only 3-D and 4-D inputs "
                              "with one block size per spatial axis are supported (as in TFLite Micro)")


@lowering("SPACE_TO_BATCH_ND")
def lower_space_to_batch(op: Operator, ctx: LoweringContext) -> None:
    x, y = ctx.input(op, 0), ctx.output(op, 0)
    _check(op, ctx, x, y)
    shape, (bh, bw), pads = _as_4d(op, ctx, x, const_ints(op, ctx, 1, "block shape").reshape(-1),
                                   const_ints(op, ctx, 2, "paddings").reshape(-1))
    n, h, w, c = shape
    if bh < 1 or bw < 1 or (pads < 0).any():
        raise ctx.unsupported(op, "block sizes must be positive and paddings non-negative")
    hp, wp = h + int(pads[0].sum()), w + int(pads[1].sum())
    if hp % bh or wp % bw or y.size != n * hp * wp * c:
        raise ctx.unsupported(op, f"padded {hp}x{wp} does not divide into {bh}x{bw} blocks of output {list(y.shape)}")
    src = ctx.ptr(x)
    if pads.any():
        src = _pad_to_scratch(op, ctx, x, y, [n, h, w, c], [n, hp, wp, c], [0, int(pads[0, 0]), int(pads[1, 0]), 0])
    # out[(i*bw+j)*n + b, h', w', c'] = padded[b, h'*bh+i, w'*bw+j, c']
    dims = [bh, bw, n, hp // bh, wp // bw, c]
    strides = [wp * c, c, hp * wp * c, bh * wp * c, bw * c, 1]
    emit_strided_copy(op, ctx, src, ctx.ptr(y), x.numpy_dtype.itemsize, dims, strides, 0)


def _pad_to_scratch(op: Operator, ctx: LoweringContext, x: Tensor, y: Tensor, in_dims: list[int],
                    out_dims: list[int], before: list[int]) -> str:
    elem = x.numpy_dtype.itemsize
    buf = ctx.scratch(op, int(np.prod(out_dims)) * elem)
    ctx.kernel("pad")
    ctype = C_TYPES[y.dtype]
    ctx.emit("{\n"
             f"  static const td_pad6 geom = {{{c_array([1, 1] + in_dims)}, {c_array([1, 1] + out_dims)}, "
             f"{c_array([0, 0] + before)}}};\n"
             f"  static const {ctype} pad_value = {_literal(_pad_value(op, ctx), y.dtype)};\n"
             f"  td_pad({ctx.ptr(x)}, {buf}, {elem}, &geom, &pad_value);\n"
             "}")
    return buf


@lowering("BATCH_TO_SPACE_ND")
def lower_batch_to_space(op: Operator, ctx: LoweringContext) -> None:
    x, y = ctx.input(op, 0), ctx.output(op, 0)
    _check(op, ctx, x, y)
    shape, (bh, bw), crops = _as_4d(op, ctx, x, const_ints(op, ctx, 1, "block shape").reshape(-1),
                                    const_ints(op, ctx, 2, "crops").reshape(-1))
    nb, h, w, c = shape
    if bh < 1 or bw < 1 or nb % (bh * bw) or (crops < 0).any():
        raise ctx.unsupported(op, f"batch {nb} does not divide into {bh}x{bw} blocks, or a crop is negative")
    n = nb // (bh * bw)
    ho, wo = h * bh - int(crops[0].sum()), w * bw - int(crops[1].sum())
    if ho < 0 or wo < 0 or y.size != n * ho * wo * c:
        raise ctx.unsupported(op, f"output {list(y.shape)} is not the {n}x{ho}x{wo}x{c} result")
    if y.size == 0:
        return
    elem = x.numpy_dtype.itemsize
    # full[b, h'*bh+i, w'*bw+j, c'] = in[(i*bw+j)*n + b, h', w', c']
    dims = [n, h, bh, w, bw, c]
    strides = [h * w * c, w * c, bw * n * h * w * c, c, n * h * w * c, 1]
    if not crops.any():
        emit_strided_copy(op, ctx, ctx.ptr(x), ctx.ptr(y), elem, dims, strides, 0)
        return
    full = ctx.scratch(op, x.size * elem)
    emit_strided_copy(op, ctx, ctx.ptr(x), full, elem, dims, strides, 0)
    full_strides = contiguous_strides([n, h * bh, w * bw, c])
    offset = int(crops[0, 0]) * full_strides[1] + int(crops[1, 0]) * full_strides[2]
    emit_strided_copy(op, ctx, full, ctx.ptr(y), elem, [n, ho, wo, c], full_strides, offset)
