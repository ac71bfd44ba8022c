"""Generation-time bounds check: every kernel call stays inside its tensors (and so inside the arena).

The aot kernels take their loop bounds from the op's shapes: a convolution walks batches x out_h x out_w x
out_c of its *input's* batch, an element-wise op walks its input's element count, and so on.  A model whose
declared output shape disagrees with what its op computes (a corrupt file, a hand-edited shape: batch 1 -> 2 on
one activation) would make the firmware write past the output tensor, past the arena, and still report
whatever happened to be in the output bytes.  The generator knows every shape, so before lowering an op it
computes what the op's kernel will write (and the operand sizes it will read) from the input shapes and the
options, and refuses the model with a one-line error when the declared tensors do not hold exactly that.

One rule per op family; an op without a rule is left to its lowering's own checks.  The rules are TFLite's
shape semantics (the same a TFLM kernel's Prepare enforces), not the lowering's choices.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from tinydeploy.errors import UserError
from tinydeploy.model.graph import Model, Operator, Tensor

Shape = tuple[int, ...]
# A rule returns a description of the mismatch, or None when the op's tensors are consistent.  It may also
# return None when an operand it needs is absent or not constant: the lowering rejects those itself.
Rule = Callable[[Model, Operator], "str | None"]

UNARY = ("RELU", "RELU6", "RELU_N1_TO_1", "LEAKY_RELU", "LOGISTIC", "TANH", "HARD_SWISH", "ELU", "ABS", "NEG",
         "SQUARE", "SQRT", "RSQRT", "EXP", "LOG", "CEIL", "FLOOR", "ROUND", "QUANTIZE", "DEQUANTIZE", "SOFTMAX",
         "LOG_SOFTMAX", "CAST", "ZEROS_LIKE", "SIN", "COS", "GELU", "SIGN")
BINARY = ("ADD", "SUB", "MUL", "DIV", "MAXIMUM", "MINIMUM", "SQUARED_DIFFERENCE", "POW", "FLOOR_DIV", "FLOOR_MOD")
SAME_BYTES = ("RESHAPE", "SQUEEZE", "EXPAND_DIMS")
COMPARISONS = ("EQUAL", "NOT_EQUAL", "LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL", "LOGICAL_AND", "LOGICAL_OR")


def _operand(model: Model, op: Operator, i: int, outputs: bool = False) -> Tensor | None:
    indices = op.outputs if outputs else op.inputs
    return model.tensors[indices[i]] if i < len(indices) and indices[i] >= 0 else None


def _const_ints(t: Tensor | None) -> list[int] | None:
    if t is None or t.data is None:
        return None
    return [int(v) for v in np.asarray(t.data).reshape(-1)]


def _expect_shape(y: Tensor, expected: Shape, what: str) -> str | None:
    if tuple(y.shape) != tuple(expected):
        return (f"{what} gives output {list(expected)} ({int(np.prod(expected, dtype=np.int64))} values), "
                f"but output {y.describe()} is {list(y.shape)} ({y.size} values)")
    return None


def _out_size(padding: str, size: int, k: int, stride: int, dilation: int) -> int | None:
    effective = (k - 1) * dilation + 1
    if padding == "SAME":
        return (size + stride - 1) // stride
    if padding == "VALID":
        return (size - effective + stride) // stride
    return None


def _spatial(op: Operator, x: Shape, kh: int, kw: int, dilated: bool) -> tuple[int, int] | None:
    o = op.options
    sh, sw = int(o.get("stride_h", 1)), int(o.get("stride_w", 1))
    dh = int(o.get("dilation_h_factor", 1)) if dilated else 1
    dw = int(o.get("dilation_w_factor", 1)) if dilated else 1
    if min(sh, sw, dh, dw, kh, kw) < 1:
        return None  # the lowering rejects these
    padding = str(o.get("padding", "VALID"))
    oh, ow = _out_size(padding, x[1], kh, sh, dh), _out_size(padding, x[2], kw, sw, dw)
    return None if oh is None or ow is None else (oh, ow)


def _bias_problem(model: Model, op: Operator, channels: int) -> str | None:
    b = _operand(model, op, 2)
    if b is not None and b.size != channels:
        return f"bias {b.describe()} has {b.size} values for {channels} output channels"
    return None


def _conv(model: Model, op: Operator) -> str | None:
    x, w, y = _operand(model, op, 0), _operand(model, op, 1), _operand(model, op, 0, outputs=True)
    if x is None or w is None or y is None or len(x.shape) != 4 or len(w.shape) != 4:
        return None
    depthwise = op.opcode == "DEPTHWISE_CONV_2D"
    kh, kw = w.shape[1], w.shape[2]
    hw = _spatial(op, x.shape, kh, kw, dilated=True)
    if hw is None:
        return None
    channels = w.shape[3] if depthwise else w.shape[0]
    if depthwise and (x.shape[3] == 0 or channels % x.shape[3]):
        return f"filter {w.describe()} {list(w.shape)} does not fit input {x.describe()} {list(x.shape)}"
    if not depthwise and (w.shape[3] == 0 or x.shape[3] % w.shape[3]):
        return f"filter {w.describe()} {list(w.shape)} does not fit input {x.describe()} {list(x.shape)}"
    return _expect_shape(y, (x.shape[0], *hw, channels), f"input {list(x.shape)} with filter {list(w.shape)}") \
        or _bias_problem(model, op, channels)


def _pool(model: Model, op: Operator) -> str | None:
    x, y = _operand(model, op, 0), _operand(model, op, 0, outputs=True)
    if x is None or y is None or len(x.shape) != 4:
        return None
    hw = _spatial(op, x.shape, int(op.options.get("filter_height", 0)), int(op.options.get("filter_width", 0)),
                  dilated=False)
    if hw is None:
        return None
    return _expect_shape(y, (x.shape[0], *hw, x.shape[3]), f"input {list(x.shape)}")


def _fully_connected(model: Model, op: Operator) -> str | None:
    x, w, y = _operand(model, op, 0), _operand(model, op, 1), _operand(model, op, 0, outputs=True)
    if x is None or w is None or y is None or len(w.shape) != 2 or w.shape[1] == 0:
        return None
    units, depth = w.shape
    if x.size % depth:
        return f"input {x.describe()} has {x.size} values, not a multiple of the weights' depth {depth}"
    if y.size != x.size // depth * units:
        return (f"input {list(x.shape)} with weights {list(w.shape)} gives {x.size // depth} x {units} values, "
                f"but output {y.describe()} is {list(y.shape)} ({y.size} values)")
    return _bias_problem(model, op, units)


def _unary(model: Model, op: Operator) -> str | None:
    x, y = _operand(model, op, 0), _operand(model, op, 0, outputs=True)
    if x is None or y is None:
        return None
    return _expect_shape(y, x.shape, f"input {x.describe()} {list(x.shape)}")


def _binary(model: Model, op: Operator) -> str | None:
    a, b, y = _operand(model, op, 0), _operand(model, op, 1), _operand(model, op, 0, outputs=True)
    if a is None or b is None or y is None:
        return None
    try:
        shape = tuple(int(d) for d in np.broadcast_shapes(a.shape, b.shape))
    except ValueError:
        return f"inputs {list(a.shape)} and {list(b.shape)} do not broadcast"
    return _expect_shape(y, shape, f"inputs {list(a.shape)} and {list(b.shape)}")


def _prelu(model: Model, op: Operator) -> str | None:
    x, alpha, y = _operand(model, op, 0), _operand(model, op, 1), _operand(model, op, 0, outputs=True)
    if x is None or alpha is None or y is None:
        return None
    try:
        shape = tuple(int(d) for d in np.broadcast_shapes(x.shape, alpha.shape))
    except ValueError:
        return f"input {list(x.shape)} and alpha {list(alpha.shape)} do not broadcast"
    return _expect_shape(y, shape, f"input {list(x.shape)} and alpha {list(alpha.shape)}")


def _same_bytes(model: Model, op: Operator) -> str | None:
    x, y = _operand(model, op, 0), _operand(model, op, 0, outputs=True)
    if x is None or y is None or x.nbytes == y.nbytes:
        return None
    return f"input {x.describe()} {list(x.shape)} has {x.nbytes} bytes, output {y.describe()} {list(y.shape)} {y.nbytes}"


def _concatenation(model: Model, op: Operator) -> str | None:
    y = _operand(model, op, 0, outputs=True)
    ins = [_operand(model, op, i) for i in range(len(op.inputs))]
    if y is None or any(t is None for t in ins) or not y.shape:
        return None
    rank = len(y.shape)
    axis = int(op.options.get("axis", 0))
    axis = axis + rank if axis < 0 else axis
    if not 0 <= axis < rank or any(len(t.shape) != rank for t in ins if t is not None):
        return None  # the lowering names these
    shape = list(ins[0].shape)  # type: ignore[union-attr]
    shape[axis] = sum(t.shape[axis] for t in ins if t is not None)
    for t in ins:
        assert t is not None
        if any(t.shape[k] != shape[k] for k in range(rank) if k != axis):
            return f"input {t.describe()} {list(t.shape)} does not fit the others along axis {axis}"
    return _expect_shape(y, tuple(shape), f"inputs {[list(t.shape) for t in ins if t is not None]} along axis {axis}")


def _pad(model: Model, op: Operator) -> str | None:
    x, y = _operand(model, op, 0), _operand(model, op, 0, outputs=True)
    pads = _const_ints(_operand(model, op, 1))
    if x is None or y is None or pads is None or len(pads) != 2 * len(x.shape):
        return None
    if min(pads, default=0) < 0:
        return f"negative paddings {pads}"
    shape = tuple(d + pads[2 * k] + pads[2 * k + 1] for k, d in enumerate(x.shape))
    return _expect_shape(y, shape, f"input {list(x.shape)} padded by {pads}")


def _reduce(model: Model, op: Operator) -> str | None:
    x, y = _operand(model, op, 0), _operand(model, op, 0, outputs=True)
    axes = _const_ints(_operand(model, op, 1))
    if x is None or y is None or axes is None:
        return None
    rank = len(x.shape)
    if any(not -rank <= a < rank for a in axes):
        return None  # the lowering names these
    reduced = {a % rank for a in axes} if rank else set()
    keep = bool(op.options.get("keep_dims", False))
    shape = tuple(1 if k in reduced else d for k, d in enumerate(x.shape) if keep or k not in reduced)
    if y.size != int(np.prod(shape, dtype=np.int64)):  # rank/shape may be written either way: compare sizes
        return _expect_shape(y, shape, f"input {list(x.shape)} reduced over {sorted(reduced)}")
    return None


def _transpose(model: Model, op: Operator) -> str | None:
    x, y = _operand(model, op, 0), _operand(model, op, 0, outputs=True)
    perm = _const_ints(_operand(model, op, 1))
    if x is None or y is None or perm is None or sorted(perm) != list(range(len(x.shape))):
        return None
    return _expect_shape(y, tuple(x.shape[p] for p in perm), f"input {list(x.shape)} permuted by {perm}")


def _expect_size(y: Tensor, expected: Shape, what: str) -> str | None:
    """Like _expect_shape, for ops whose output rank converters write either way: the element count is what
    keeps the kernel inside the output."""
    if y.size != int(np.prod(expected, dtype=np.int64)):
        return _expect_shape(y, expected, what)
    return None


def _axis(axis: int, rank: int) -> int | None:
    axis = axis + rank if axis < 0 else axis
    return axis if 0 <= axis < rank else None


def _outputs(model: Model, op: Operator) -> list[Tensor] | None:
    ys = [_operand(model, op, k, outputs=True) for k in range(len(op.outputs))]
    return None if any(y is None for y in ys) else ys  # type: ignore[return-value]


def _slice(model: Model, op: Operator) -> str | None:
    x, y = _operand(model, op, 0), _operand(model, op, 0, outputs=True)
    begin, size = _const_ints(_operand(model, op, 1)), _const_ints(_operand(model, op, 2))
    if x is None or y is None or begin is None or size is None or not len(begin) == len(size) == len(x.shape):
        return None
    shape = []
    for d, b, n in zip(x.shape, begin, size):
        n = d - b if n == -1 else n
        if b < 0 or n < 0 or b + n > d:
            return f"slice begin {begin} size {size} reaches outside input {x.describe()} {list(x.shape)}"
        shape.append(n)
    return _expect_shape(y, tuple(shape), f"input {list(x.shape)} sliced at {begin} size {size}")


def _strided_slice(model: Model, op: Operator) -> str | None:
    x, y = _operand(model, op, 0), _operand(model, op, 0, outputs=True)
    begin, end, strides = (_const_ints(_operand(model, op, k)) for k in (1, 2, 3))
    o = op.options
    if (x is None or y is None or begin is None or end is None or strides is None or o.get("offset")
            or o.get("ellipsis_mask") or o.get("new_axis_mask") or not len(begin) == len(end) == len(strides)
            or len(begin) > len(x.shape) or 0 in strides):
        return None  # the lowering handles (or names) these
    shape: list[int] = []
    for k, d in enumerate(x.shape):
        if k >= len(begin):
            shape.append(d)
        elif int(o.get("shrink_axis_mask", 0)) >> k & 1:
            if not -d <= begin[k] < d:
                return f"index {begin[k]} on axis {k} is outside input {x.describe()} {list(x.shape)}"
        else:
            start = None if int(o.get("begin_mask", 0)) >> k & 1 else begin[k]
            stop = None if int(o.get("end_mask", 0)) >> k & 1 else end[k]
            shape.append(len(range(d)[slice(start, stop, strides[k])]))
    return _expect_size(y, tuple(shape), f"input {list(x.shape)} strided-sliced {begin}:{end}:{strides}")


def _split(model: Model, op: Operator) -> str | None:
    axis_at, x_at = (0, 1) if op.opcode == "SPLIT" else (2, 0)
    x, axis, ys = _operand(model, op, x_at), _const_ints(_operand(model, op, axis_at)), _outputs(model, op)
    if x is None or axis is None or len(axis) != 1 or ys is None or not ys:
        return None
    a = _axis(axis[0], len(x.shape))
    if a is None:
        return None
    if op.opcode == "SPLIT":
        if x.shape[a] % len(ys):
            return f"input {x.describe()} {list(x.shape)} does not split into {len(ys)} along axis {a}"
        sizes = [x.shape[a] // len(ys)] * len(ys)
    else:
        sizes = _const_ints(_operand(model, op, 1))
        if sizes is None or len(sizes) != len(ys):
            return None
        if -1 in sizes:
            sizes[sizes.index(-1)] = x.shape[a] - (sum(sizes) + 1)
        if min(sizes) < 0 or sum(sizes) != x.shape[a]:
            return f"split sizes {sizes} do not add up to axis {a} of input {x.describe()} {list(x.shape)}"
    for y, n in zip(ys, sizes):
        problem = _expect_shape(y, (*x.shape[:a], n, *x.shape[a + 1:]), f"input {list(x.shape)} split on axis {a}")
        if problem:
            return problem
    return None


def _pack(model: Model, op: Operator) -> str | None:
    ins, y = [_operand(model, op, k) for k in range(len(op.inputs))], _operand(model, op, 0, outputs=True)
    if y is None or not ins or any(t is None for t in ins):
        return None
    first = ins[0]
    assert first is not None
    if any(tuple(t.shape) != tuple(first.shape) for t in ins if t is not None):
        return f"inputs {[list(t.shape) for t in ins if t is not None]} differ in shape"
    a = _axis(int(op.options.get("axis", 0)), len(first.shape) + 1)
    if a is None:
        return None
    return _expect_shape(y, (*first.shape[:a], len(ins), *first.shape[a:]), f"{len(ins)} inputs {list(first.shape)}")


def _unpack(model: Model, op: Operator) -> str | None:
    x, ys = _operand(model, op, 0), _outputs(model, op)
    if x is None or ys is None or not x.shape:
        return None
    a = _axis(int(op.options.get("axis", 0)), len(x.shape))
    if a is None:
        return None
    if len(ys) != x.shape[a]:
        return f"input {x.describe()} {list(x.shape)} unpacks into {x.shape[a]} outputs along axis {a}, not {len(ys)}"
    for y in ys:
        problem = _expect_shape(y, (*x.shape[:a], *x.shape[a + 1:]), f"input {list(x.shape)} unpacked on axis {a}")
        if problem:
            return problem
    return None


def _tile(model: Model, op: Operator) -> str | None:
    x, y, m = _operand(model, op, 0), _operand(model, op, 0, outputs=True), _const_ints(_operand(model, op, 1))
    if x is None or y is None or m is None or len(m) != len(x.shape):
        return None
    if min(m, default=1) < 0:
        return f"negative multiples {m}"
    return _expect_shape(y, tuple(d * k for d, k in zip(x.shape, m)), f"input {list(x.shape)} tiled {m}")


def _broadcast_to(model: Model, op: Operator) -> str | None:
    x, y, shape = _operand(model, op, 0), _operand(model, op, 0, outputs=True), _const_ints(_operand(model, op, 1))
    if x is None or y is None or shape is None:
        return None
    try:
        if tuple(np.broadcast_shapes(x.shape, tuple(shape))) != tuple(shape):
            raise ValueError
    except ValueError:
        return f"input {x.describe()} {list(x.shape)} does not broadcast to {shape}"
    return _expect_shape(y, tuple(shape), f"input {list(x.shape)} broadcast to {shape}")


def _gather(model: Model, op: Operator) -> str | None:
    p, i, y = _operand(model, op, 0), _operand(model, op, 1), _operand(model, op, 0, outputs=True)
    if p is None or i is None or y is None:
        return None
    a = _axis(int(op.options.get("axis", 0)), len(p.shape))
    bd = int(op.options.get("batch_dims", 0))
    bd = bd + len(i.shape) if bd < 0 else bd
    if a is None or not 0 <= bd <= min(a, len(i.shape)):
        return None
    values = _const_ints(i)
    if values is not None and any(not 0 <= v < p.shape[a] for v in values):
        return f"constant indices {i.describe()} reach outside axis {a} of params {p.describe()} {list(p.shape)}"
    shape = (*p.shape[:a], *i.shape[bd:], *p.shape[a + 1:])
    return _expect_shape(y, shape, f"params {list(p.shape)} gathered by indices {list(i.shape)} on axis {a}")


def _gather_nd(model: Model, op: Operator) -> str | None:
    p, i, y = _operand(model, op, 0), _operand(model, op, 1), _operand(model, op, 0, outputs=True)
    if p is None or i is None or y is None or not i.shape or i.shape[-1] > len(p.shape):
        return None
    shape = (*i.shape[:-1], *p.shape[i.shape[-1]:])
    return _expect_size(y, shape, f"params {list(p.shape)} gathered by indices {list(i.shape)}")


def _depth_space(model: Model, op: Operator) -> str | None:
    x, y, b = _operand(model, op, 0), _operand(model, op, 0, outputs=True), int(op.options.get("block_size", 0))
    if x is None or y is None or len(x.shape) != 4 or b < 1:
        return None
    n, h, w, c = x.shape
    if op.opcode == "DEPTH_TO_SPACE":
        if c % (b * b):
            return f"input {x.describe()} {list(x.shape)}: {c} channels do not divide by block {b}x{b}"
        shape = (n, h * b, w * b, c // (b * b))
    else:
        if h % b or w % b:
            return f"input {x.describe()} {list(x.shape)}: height/width do not divide by block {b}"
        shape = (n, h // b, w // b, c * b * b)
    return _expect_shape(y, shape, f"input {list(x.shape)} with block {b}")


def _space_batch(model: Model, op: Operator) -> str | None:
    x, y = _operand(model, op, 0), _operand(model, op, 0, outputs=True)
    block, pads = _const_ints(_operand(model, op, 1)), _const_ints(_operand(model, op, 2))
    if x is None or y is None or block is None or pads is None or len(pads) != 2 * len(block) \
            or len(x.shape) < len(block) + 1 or min(block, default=1) < 1:
        return None
    spatial = x.shape[1 : 1 + len(block)]
    total = int(np.prod(block, dtype=np.int64))
    if op.opcode == "SPACE_TO_BATCH_ND":
        padded = [d + pads[2 * k] + pads[2 * k + 1] for k, d in enumerate(spatial)]
        if min(pads, default=0) < 0 or any(d % b for d, b in zip(padded, block)):
            return f"padded input {padded} does not divide by block {block}"
        shape = (x.shape[0] * total, *(d // b for d, b in zip(padded, block)), *x.shape[1 + len(block):])
    else:
        cropped = [d * b - pads[2 * k] - pads[2 * k + 1] for k, (d, b) in enumerate(zip(spatial, block))]
        if x.shape[0] % total or min(pads, default=0) < 0 or min(cropped, default=0) < 0:
            return f"input {x.describe()} {list(x.shape)} does not fit block {block} and crops {pads}"
        shape = (x.shape[0] // total, *cropped, *x.shape[1 + len(block):])
    return _expect_shape(y, shape, f"input {list(x.shape)} with block {block} and {pads}")


def _resize(model: Model, op: Operator) -> str | None:
    x, y, size = _operand(model, op, 0), _operand(model, op, 0, outputs=True), _const_ints(_operand(model, op, 1))
    if x is None or y is None or size is None or len(size) != 2 or len(x.shape) != 4:
        return None
    return _expect_shape(y, (x.shape[0], *size, x.shape[3]), f"input {list(x.shape)} resized to {size}")


def _fill(model: Model, op: Operator) -> str | None:
    y, dims = _operand(model, op, 0, outputs=True), _const_ints(_operand(model, op, 0))
    if y is None or dims is None:
        return None
    return _expect_shape(y, tuple(dims), f"dims {dims}")


def _arg_reduce(model: Model, op: Operator) -> str | None:
    x, y, axis = _operand(model, op, 0), _operand(model, op, 0, outputs=True), _const_ints(_operand(model, op, 1))
    if x is None or y is None or axis is None or len(axis) != 1:
        return None
    a = _axis(axis[0], len(x.shape))
    if a is None:
        return None
    return _expect_shape(y, (*x.shape[:a], *x.shape[a + 1:]), f"input {list(x.shape)} reduced on axis {a}")


def _select_v2(model: Model, op: Operator) -> str | None:
    y = _operand(model, op, 0, outputs=True)
    ins = [_operand(model, op, k) for k in (0, 1, 2)]
    if y is None or any(t is None for t in ins):
        return None
    shapes = [tuple(t.shape) for t in ins if t is not None]
    try:
        shape = tuple(int(d) for d in np.broadcast_shapes(*shapes))
    except ValueError:
        return f"condition and values {[list(s) for s in shapes]} do not broadcast"
    return _expect_shape(y, shape, f"condition and values {[list(s) for s in shapes]}")


def _transpose_conv(model: Model, op: Operator) -> str | None:
    shape, w, x = _const_ints(_operand(model, op, 0)), _operand(model, op, 1), _operand(model, op, 2)
    y = _operand(model, op, 0, outputs=True)
    if shape is None or w is None or x is None or y is None or len(shape) != 4 or len(w.shape) != 4 \
            or len(x.shape) != 4:
        return None
    if w.shape[3] != x.shape[3] or shape[3] != w.shape[0] or shape[0] != x.shape[0]:
        return (f"filter {w.describe()} {list(w.shape)}, input {list(x.shape)} and output_shape {shape} "
                "do not fit together")
    problem = _expect_shape(y, tuple(shape), f"output_shape {shape}")
    b = _operand(model, op, 3)
    if problem is None and b is not None and b.size != w.shape[0]:
        return f"bias {b.describe()} has {b.size} values for {w.shape[0]} output channels"
    return problem


def _batch_matmul(model: Model, op: Operator) -> str | None:
    a, b, y = _operand(model, op, 0), _operand(model, op, 1), _operand(model, op, 0, outputs=True)
    if a is None or b is None or y is None or len(a.shape) < 2 or len(b.shape) < 2:
        return None
    m, k = a.shape[-2:][::-1] if op.options.get("adj_x") else a.shape[-2:]
    k2, n = b.shape[-2:][::-1] if op.options.get("adj_y") else b.shape[-2:]
    if k != k2:
        return f"inputs {list(a.shape)} and {list(b.shape)} disagree on the inner dimension ({k} vs {k2})"
    try:
        batch = tuple(int(d) for d in np.broadcast_shapes(a.shape[:-2], b.shape[:-2]))
    except ValueError:
        return f"batch dimensions of {list(a.shape)} and {list(b.shape)} do not broadcast"
    return _expect_size(y, (*batch, m, n), f"inputs {list(a.shape)} x {list(b.shape)}")


def _sequence_lstm(model: Model, op: Operator) -> str | None:
    x, w, y = _operand(model, op, 0), _operand(model, op, 4), _operand(model, op, 0, outputs=True)
    if x is None or w is None or y is None or len(x.shape) != 3 or len(w.shape) != 2:
        return None  # input_to_output_weights (operand 4) is never optional
    units, features = w.shape
    if features != x.shape[2]:
        return f"input {x.describe()} {list(x.shape)} has {x.shape[2]} features, the weights {list(w.shape)} {features}"
    return _expect_size(y, (*x.shape[:2], units), f"input {list(x.shape)} with {units} units")


def _svdf(model: Model, op: Operator) -> str | None:
    x, wf, wt = _operand(model, op, 0), _operand(model, op, 1), _operand(model, op, 2)
    state, y, rank = _operand(model, op, 4), _operand(model, op, 0, outputs=True), int(op.options.get("rank", 0))
    if x is None or wf is None or wt is None or state is None or y is None or len(x.shape) != 2 \
            or len(wf.shape) != 2 or len(wt.shape) != 2 or rank < 1:
        return None
    filters, memory = wt.shape
    if filters % rank or tuple(wf.shape) != (filters, x.shape[1]):
        return (f"feature weights {wf.describe()} {list(wf.shape)} do not fit input {list(x.shape)} and time "
                f"weights {list(wt.shape)} at rank {rank}")
    if state.size != x.shape[0] * memory * filters:
        return f"state {state.describe()} has {state.size} values, not {x.shape[0]} x {memory} x {filters}"
    b = _operand(model, op, 3)
    if b is not None and b.size != filters // rank:
        return f"bias {b.describe()} has {b.size} values for {filters // rank} units"
    return _expect_shape(y, (x.shape[0], filters // rank), f"input {list(x.shape)} with {filters // rank} units")


def _embedding_lookup(model: Model, op: Operator) -> str | None:
    ids, table, y = _operand(model, op, 0), _operand(model, op, 1), _operand(model, op, 0, outputs=True)
    if ids is None or table is None or y is None or len(ids.shape) != 1 or len(table.shape) < 2:
        return None
    values = _const_ints(ids)
    if values is not None and any(not 0 <= v < table.shape[0] for v in values):
        return f"constant ids {ids.describe()} reach outside the {table.shape[0]} rows of {table.describe()}"
    return _expect_shape(y, (ids.shape[0], *table.shape[1:]), f"{ids.shape[0]} ids into table {list(table.shape)}")


def _cumsum(model: Model, op: Operator) -> str | None:
    x, axis = _operand(model, op, 0), _const_ints(_operand(model, op, 1))
    if x is None or axis is None or len(axis) != 1:
        return None
    if _axis(axis[0], len(x.shape)) is None:
        return f"axis {axis[0]} is outside input {x.describe()} {list(x.shape)}"
    return _unary(model, op)


def _mirror_pad(model: Model, op: Operator) -> str | None:
    x, y = _operand(model, op, 0), _operand(model, op, 0, outputs=True)
    pads = _const_ints(_operand(model, op, 1))
    if x is None or y is None or pads is None or len(pads) != 2 * len(x.shape):
        return None
    offset = 1 if int(op.options.get("mode", 0)) == 0 else 0  # REFLECT leaves the edge out
    for k, d in enumerate(x.shape):
        if min(pads[2 * k], pads[2 * k + 1]) < 0 or max(pads[2 * k], pads[2 * k + 1]) > d - offset:
            return (f"paddings {pads[2 * k:2 * k + 2]} on axis {k} reach outside input {x.describe()} "
                    f"{list(x.shape)} ({'REFLECT' if offset else 'SYMMETRIC'} allows at most {d - offset})")
    shape = tuple(d + pads[2 * k] + pads[2 * k + 1] for k, d in enumerate(x.shape))
    return _expect_shape(y, shape, f"input {list(x.shape)} mirror-padded by {pads}")


def _reverse(model: Model, op: Operator) -> str | None:
    x, axes = _operand(model, op, 0), _const_ints(_operand(model, op, 1))
    if x is not None and axes is not None and any(_axis(a, len(x.shape)) is None for a in axes):
        return f"axes {axes} are outside input {x.describe()} {list(x.shape)}"
    return _unary(model, op)


def _add_n(model: Model, op: Operator) -> str | None:
    y = _operand(model, op, 0, outputs=True)
    if y is None:
        return None
    for i in range(len(op.inputs)):
        x = _operand(model, op, i)
        if x is not None and tuple(x.shape) != tuple(y.shape):
            return (f"input {i} {x.describe()} is {list(x.shape)}, the output {y.describe()} {list(y.shape)} "
                    "(ADD_N sums equal shapes)")
    return None


def _dynamic_update_slice(model: Model, op: Operator) -> str | None:
    x, upd, idx = _operand(model, op, 0), _operand(model, op, 1), _operand(model, op, 2)
    y = _operand(model, op, 0, outputs=True)
    if x is None or upd is None or idx is None or y is None:
        return None
    if len(upd.shape) != len(x.shape) or any(u > d for u, d in zip(upd.shape, x.shape)):
        return f"update {upd.describe()} {list(upd.shape)} does not fit inside operand {list(x.shape)}"
    if idx.size != len(x.shape):
        return f"start indices {idx.describe()} hold {idx.size} values for a {len(x.shape)}-D operand"
    return _expect_shape(y, x.shape, f"operand {x.describe()} {list(x.shape)}")


def _broadcast_args(model: Model, op: Operator) -> str | None:
    a, b, y = _operand(model, op, 0), _operand(model, op, 1), _operand(model, op, 0, outputs=True)
    if a is None or b is None or y is None:
        return None
    return _expect_size(y, (max(a.size, b.size),), f"shape vectors of {a.size} and {b.size} values")


def _shape_op(model: Model, op: Operator) -> str | None:
    x, y = _operand(model, op, 0), _operand(model, op, 0, outputs=True)
    if x is None or y is None:
        return None
    return _expect_size(y, (len(x.shape),), f"the shape of {x.describe()} {list(x.shape)}")


def _variable_sizes(model: Model, op: Operator) -> str | None:
    """READ_VARIABLE / ASSIGN_VARIABLE copy the variable's whole buffer: every value read from or assigned to
    one variable (main subgraph and CALL_ONCE init subgraphs) must have the same byte size."""
    from tinydeploy.model.graph import parse_subgraph

    subs = [model]
    for o in model.operators:
        index = int(o.options.get("init_subgraph_index", -1)) if o.opcode == "CALL_ONCE" else -1
        if 1 <= index < model.num_subgraphs:
            try:
                subs.append(parse_subgraph(model, index))
            except UserError:
                return None  # the lowering names a corrupt subgraph
    handle = op.inputs[0] if op.inputs else -1
    producer = next((o for o in model.operators if handle in o.outputs and o.opcode == "VAR_HANDLE"), None)
    if producer is None:
        return None  # the lowering refuses a resource that is no VAR_HANDLE
    key = (producer.options.get("container", ""), producer.options.get("shared_name", ""))
    sizes: dict[int, str] = {}
    for sub in subs:
        handles = {o.outputs[0] for o in sub.operators if o.opcode == "VAR_HANDLE" and o.outputs
                   and (o.options.get("container", ""), o.options.get("shared_name", "")) == key}
        for o in sub.operators:
            value = (o.outputs[0] if o.opcode == "READ_VARIABLE" and o.outputs else
                     o.inputs[1] if o.opcode == "ASSIGN_VARIABLE" and len(o.inputs) == 2 else -1)
            if o.inputs and o.inputs[0] in handles and 0 <= value < len(sub.tensors):
                t = sub.tensors[value]
                sizes.setdefault(t.nbytes, f"{t.describe()} {list(t.shape)} {t.dtype}")
    if len(sizes) > 1:
        return (f"variable '{key[1]}' is read or assigned as {' and as '.join(sizes.values())}: one buffer "
                "cannot hold both")
    return None


def _call_once(model: Model, op: Operator) -> str | None:
    index = int(op.options.get("init_subgraph_index", -1))
    if not 1 <= index < model.num_subgraphs:
        return f"init subgraph {index} does not exist (the model has {model.num_subgraphs} subgraphs)"
    for o in model.operators:  # it writes every variable it initializes: each one's uses must agree in size
        problem = _variable_sizes(model, o) if o.opcode in ("READ_VARIABLE", "ASSIGN_VARIABLE") else None
        if problem:
            return problem
    return None


def _if(model: Model, op: Operator) -> str | None:
    """IF copies its inputs (after the bool condition) into the branch subgraph's inputs and the branch's
    outputs into its own: each pair must be the same number of bytes, the condition one bool."""
    from tinydeploy.model.graph import parse_subgraph

    cond = _operand(model, op, 0)
    if cond is not None and (cond.dtype != "bool" or cond.size != 1):
        return f"condition {cond.describe()} is {cond.dtype}{list(cond.shape)}, not one bool"
    for key in ("then_subgraph_index", "else_subgraph_index"):
        index = int(op.options.get(key, -1))
        if not 1 <= index < model.num_subgraphs:
            return f"branch subgraph {index} does not exist (the model has {model.num_subgraphs} subgraphs)"
        try:
            branch = parse_subgraph(model, index)
        except UserError:
            return None  # the generator names a corrupt subgraph
        pairs = [(i + 1, False, t) for i, t in enumerate(branch.inputs)] + \
                [(i, True, t) for i, t in enumerate(branch.outputs)]
        if len(branch.inputs) != len(op.inputs) - 1 or len(branch.outputs) != len(op.outputs):
            return (f"branch subgraph {index} takes {len(branch.inputs)} inputs and gives {len(branch.outputs)} "
                    f"outputs for the IF's {len(op.inputs) - 1} and {len(op.outputs)}")
        for slot, is_out, t in pairs:
            mine = _operand(model, op, slot, outputs=is_out)
            if mine is not None and 0 <= t < len(branch.tensors) and branch.tensors[t].nbytes != mine.nbytes:
                return (f"{'output' if is_out else 'input'} {mine.describe()} has {mine.nbytes} bytes, branch "
                        f"subgraph {index}'s {branch.tensors[t].describe()} {branch.tensors[t].nbytes}")
    return None


def _while(model: Model, op: Operator) -> str | None:
    """WHILE copies input k -> output k -> cond / body input k, and body output k -> output k: every loop
    variable's tensors hold the same bytes; cond gives one bool first."""
    from tinydeploy.model.graph import parse_subgraph

    if len(op.inputs) != len(op.outputs):
        return f"{len(op.inputs)} inputs but {len(op.outputs)} outputs (loop variables come in pairs)"
    subs = []
    for key in ("cond_subgraph_index", "body_subgraph_index"):
        index = int(op.options.get(key, -1))
        if not 1 <= index < model.num_subgraphs:
            return f"subgraph {index} does not exist (the model has {model.num_subgraphs} subgraphs)"
        try:
            subs.append((index, parse_subgraph(model, index)))
        except UserError:
            return None  # the generator names a corrupt subgraph
    (ci, cond), (bi, body) = subs
    if len(cond.inputs) != len(op.inputs) or len(body.inputs) != len(op.inputs) or len(body.outputs) != len(
            op.outputs) or not cond.outputs:
        return (f"cond subgraph {ci} ({len(cond.inputs)} inputs) and body subgraph {bi} ({len(body.inputs)} inputs, "
                f"{len(body.outputs)} outputs) do not match its {len(op.inputs)} loop variables")
    c = cond.tensors[cond.outputs[0]] if 0 <= cond.outputs[0] < len(cond.tensors) else None
    if c is not None and (c.dtype != "bool" or c.size < 1):
        return f"cond subgraph {ci} gives {c.dtype}{list(c.shape)}, not a bool"
    for k in range(len(op.inputs)):
        x, y = _operand(model, op, k), _operand(model, op, k, outputs=True)
        ends = [t for t in (x, y) if t is not None]
        for sub, t in ((cond, cond.inputs[k]), (body, body.inputs[k]), (body, body.outputs[k])):
            if 0 <= t < len(sub.tensors):
                ends.append(sub.tensors[t])
        if len({t.nbytes for t in ends}) > 1:
            return f"loop variable {k} is held in tensors of {sorted({t.nbytes for t in ends})} bytes"
    return None


def _break_unless(model: Model, op: Operator) -> str | None:
    c = _operand(model, op, 0)
    if c is not None and c.size < 1:
        return f"condition {c.describe()} is empty"
    return None


def _copy(model: Model, op: Operator) -> str | None:
    x, y = _operand(model, op, 0), _operand(model, op, 0, outputs=True)
    if x is None or y is None or x.nbytes == y.nbytes:
        return None
    return f"copies {x.describe()} of {x.nbytes} bytes into {y.describe()} of {y.nbytes}"


RULES: dict[str, Rule] = {
    "CONV_2D": _conv, "DEPTHWISE_CONV_2D": _conv, "AVERAGE_POOL_2D": _pool, "MAX_POOL_2D": _pool,
    "FULLY_CONNECTED": _fully_connected, "PRELU": _prelu, "CONCATENATION": _concatenation,
    "PAD": _pad, "PADV2": _pad, "MEAN": _reduce, "SUM": _reduce, "REDUCE_MAX": _reduce, "REDUCE_MIN": _reduce,
    "TRANSPOSE": _transpose, "SLICE": _slice, "STRIDED_SLICE": _strided_slice, "SPLIT": _split, "SPLIT_V": _split,
    "PACK": _pack, "UNPACK": _unpack, "TILE": _tile, "BROADCAST_TO": _broadcast_to, "GATHER": _gather,
    "GATHER_ND": _gather_nd, "DEPTH_TO_SPACE": _depth_space, "SPACE_TO_DEPTH": _depth_space,
    "SPACE_TO_BATCH_ND": _space_batch, "BATCH_TO_SPACE_ND": _space_batch, "RESIZE_BILINEAR": _resize,
    "RESIZE_NEAREST_NEIGHBOR": _resize, "FILL": _fill, "ARG_MAX": _arg_reduce, "ARG_MIN": _arg_reduce,
    "SELECT_V2": _select_v2, **{name: _binary for name in COMPARISONS},
    "TRANSPOSE_CONV": _transpose_conv, "BATCH_MATMUL": _batch_matmul, "UNIDIRECTIONAL_SEQUENCE_LSTM": _sequence_lstm,
    "L2_NORMALIZATION": _unary, "SVDF": _svdf, "EMBEDDING_LOOKUP": _embedding_lookup, "L2_POOL_2D": _pool,
    "CUMSUM": _cumsum, "MIRROR_PAD": _mirror_pad, "REVERSE_V2": _reverse,
    "ADD_N": _add_n, "LOGICAL_NOT": _unary, "REDUCE_ALL": _reduce, "DYNAMIC_UPDATE_SLICE": _dynamic_update_slice,
    "BROADCAST_ARGS": _broadcast_args, "SHAPE": _shape_op,
    "READ_VARIABLE": _variable_sizes, "ASSIGN_VARIABLE": _variable_sizes, "CALL_ONCE": _call_once,
    "VAR_HANDLE": lambda model, op: None,  # writes a resource handle only: no data access
    "IF": _if, "WHILE": _while,  # and the spliced pseudo-ops (aot/ops/control_flow.py):
    "TD_COPY": _copy, "TD_BREAK_UNLESS": _break_unless,
    **{name: _unary for name in UNARY}, **{name: _binary for name in BINARY}, **{name: _same_bytes for name in SAME_BYTES},
}


def op_bounds_problem(model: Model, op: Operator) -> str | None:
    """What the op's declared tensors get wrong about what its kernel reads and writes, or None.  The rules are
    TFLite's shape semantics, so they hold for any runtime (the tflm preflight asks them too)."""
    rule = RULES.get(op.opcode)
    return rule(model, op) if rule is not None else None


def check_op_bounds(model: Model, op: Operator) -> None:
    """Raise UserError when the op's declared tensors do not hold exactly what its kernel reads and writes."""
    problem = op_bounds_problem(model, op)
    if problem:
        raise UserError(f"{model.path or 'model'}: {op.describe(model)}: {problem}; its kernel would access memory "
                        "outside its tensors, so no code is generated (the file is corrupt or was edited)",
                        hint="convert the model again")

