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


RULES: dict[str, Rule] = {
    "CONV_2D": _conv, "DEPTHWISE_CONV_2D": _conv, "AVERAGE_POOL_2D": _pool, "MAX_POOL_2D": _pool,
    "FULLY_CONNECTED": _fully_connected, "PRELU": _prelu, "CONCATENATION": _concatenation,
    "PAD": _pad, "PADV2": _pad, "MEAN": _reduce, "SUM": _reduce, "REDUCE_MAX": _reduce, "REDUCE_MIN": _reduce,
    "TRANSPOSE": _transpose,
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

