"""Build-time constant folding: ops whose result is known before the device runs produce no code.

The converter leaves shape arithmetic in graphs (SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE, ...).  With a
static batch size every such value is a constant; this pass evaluates those ops with numpy, stores the result
as the output tensor's constant data and marks the op as folded.  Ops whose outputs nobody reads are dropped
as dead.  The pass works on a copy of the model; the input Model is not changed.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from tinydeploy.model.dynamic import dynamic_batch
from tinydeploy.model.graph import Model, Operator, Tensor


@dataclass
class FoldResult:
    model: Model  # a copy with folded tensors turned into constants
    folded: list[int] = field(default_factory=list)  # op indices evaluated at build time
    dead: list[int] = field(default_factory=list)  # op indices whose outputs nobody reads

    @property
    def skipped(self) -> set[int]:
        return set(self.folded) | set(self.dead)


# Ops that act beyond their outputs (resource variables, CALL_ONCE's init subgraph, the brackets and copies
# of a spliced IF / WHILE, aot/ops/control_flow.py: a loop variable is read again at the loop's top):
# never dropped as dead.
SIDE_EFFECT_OPS = ("ASSIGN_VARIABLE", "CALL_ONCE", "VAR_HANDLE", "TD_IF", "TD_ELSE", "TD_END_IF", "TD_LOOP",
                   "TD_BREAK_UNLESS", "TD_END_LOOP", "TD_COPY")

Evaluator = Callable[[Operator, list[Tensor], Tensor], "np.ndarray | None"]
_EVALUATORS: dict[str, Evaluator] = {}


def _evaluator(*names: str) -> Callable[[Evaluator], Evaluator]:
    def register(fn: Evaluator) -> Evaluator:
        for n in names:
            _EVALUATORS[n] = fn
        return fn

    return register


def _static_shape(t: Tensor) -> bool:
    """The recorded shape is the run-time shape: no dynamic dimension, or a dynamic batch (run as 1; models
    with other dynamic dimensions are refused before folding, see tinydeploy.model.dynamic)."""
    sig = t.shape_signature
    return all(d > 0 for d in t.shape) and (sig is None or all(d > 0 for d in sig) or dynamic_batch(t))


@_evaluator("SHAPE")
def _shape(op: Operator, ins: list[Tensor], out: Tensor) -> np.ndarray | None:
    if not _static_shape(ins[0]):
        return None
    return np.array(ins[0].shape, dtype=out.numpy_dtype)


@_evaluator("RESHAPE", "SQUEEZE", "EXPAND_DIMS")
def _reshape(op: Operator, ins: list[Tensor], out: Tensor) -> np.ndarray | None:
    if ins[0].data is None or ins[0].data.size != out.size:
        return None
    return ins[0].data.reshape(out.shape)


@_evaluator("PACK")
def _pack(op: Operator, ins: list[Tensor], out: Tensor) -> np.ndarray | None:
    if any(t.data is None for t in ins):
        return None
    return np.stack([t.data for t in ins], axis=op.options.get("axis", 0))


@_evaluator("CONCATENATION")
def _concat(op: Operator, ins: list[Tensor], out: Tensor) -> np.ndarray | None:
    if any(t.data is None for t in ins) or op.options.get("fused_activation_function", "NONE") != "NONE":
        return None
    if any(t.quant is not None and t.quant.scale.size and out.quant is not None
           and (t.quant.scale[0] != out.quant.scale[0] or t.quant.zero_point[0] != out.quant.zero_point[0])
           for t in ins):
        return None  # a requantizing concatenation: leave it to the kernel
    axis = op.options.get("axis", 0)
    return np.concatenate([np.atleast_1d(t.data) for t in ins], axis=axis)


@_evaluator("STRIDED_SLICE")
def _strided_slice(op: Operator, ins: list[Tensor], out: Tensor) -> np.ndarray | None:
    if len(ins) < 4 or any(t.data is None for t in ins[:4]):
        return None
    o = op.options
    if o.get("ellipsis_mask", 0) or o.get("new_axis_mask", 0) or o.get("offset", False):
        return None
    data = ins[0].data
    begin, end, strides = (np.atleast_1d(t.data).astype(np.int64) for t in ins[1:4])
    slices: list[slice | int] = []
    for axis in range(data.ndim):
        if axis >= begin.size:
            slices.append(slice(None))
            continue
        b = None if o.get("begin_mask", 0) >> axis & 1 else int(begin[axis])
        e = None if o.get("end_mask", 0) >> axis & 1 else int(end[axis])
        s = int(strides[axis])
        if o.get("shrink_axis_mask", 0) >> axis & 1:
            slices.append(int(begin[axis]))
        else:
            slices.append(slice(b, e, s))
    return np.asarray(data[tuple(slices)])


def _int_binary(fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Evaluator:
    def evaluate(op: Operator, ins: list[Tensor], out: Tensor) -> np.ndarray | None:
        if any(t.data is None for t in ins) or out.dtype not in ("int32", "int64"):
            return None
        if op.options.get("fused_activation_function", "NONE") != "NONE":
            return None
        return fn(ins[0].data, ins[1].data)

    return evaluate


_EVALUATORS["ADD"] = _int_binary(np.add)
_EVALUATORS["SUB"] = _int_binary(np.subtract)
_EVALUATORS["MUL"] = _int_binary(np.multiply)


@_evaluator("CAST")
def _cast(op: Operator, ins: list[Tensor], out: Tensor) -> np.ndarray | None:
    if ins[0].data is None or ins[0].dtype not in ("int32", "int64") or out.dtype not in ("int32", "int64"):
        return None
    return ins[0].data.astype(out.numpy_dtype)


@_evaluator("DEQUANTIZE")
def _dequantize(op: Operator, ins: list[Tensor], out: Tensor) -> np.ndarray | None:
    src = ins[0]
    if src.data is None or out.dtype != "float32":
        return None
    if src.dtype == "float16":
        return src.data.astype(np.float32)
    if src.quant is None or src.quant.per_channel:
        return None
    # TFLM: (float)(double(scale) * (q - zero_point))
    scale = float(src.quant.scale[0])
    return (scale * (src.data.astype(np.int64) - int(src.quant.zero_point[0]))).astype(np.float32)


def _const_ints(t: Tensor) -> list[int]:
    return [int(v) for v in np.asarray(t.data).reshape(-1)]


@_evaluator("TILE")
def _tile(op: Operator, ins: list[Tensor], out: Tensor) -> np.ndarray | None:
    if len(ins) < 2 or ins[0].data is None or ins[1].data is None:
        return None
    return np.tile(ins[0].data, _const_ints(ins[1]))


@_evaluator("BROADCAST_TO")
def _broadcast_to(op: Operator, ins: list[Tensor], out: Tensor) -> np.ndarray | None:
    if len(ins) < 2 or ins[0].data is None:
        return None
    return np.broadcast_to(ins[0].data, out.shape)


@_evaluator("FILL")
def _fill(op: Operator, ins: list[Tensor], out: Tensor) -> np.ndarray | None:
    if len(ins) < 2 or ins[0].data is None or ins[1].data is None or ins[1].data.size != 1:
        return None
    return np.full(_const_ints(ins[0]), np.asarray(ins[1].data).reshape(-1)[0], dtype=out.numpy_dtype)


@_evaluator("ZEROS_LIKE")
def _zeros_like(op: Operator, ins: list[Tensor], out: Tensor) -> np.ndarray | None:
    # the output does not depend on the input's values, only on its (static) shape
    return np.zeros(out.shape, dtype=out.numpy_dtype) if _static_shape(out) else None


@_evaluator("SLICE")
def _slice(op: Operator, ins: list[Tensor], out: Tensor) -> np.ndarray | None:
    if len(ins) < 3 or any(t.data is None for t in ins[:3]):
        return None
    begin, size = _const_ints(ins[1]), _const_ints(ins[2])
    data = ins[0].data
    return data[tuple(slice(b, data.shape[k] if s == -1 else b + s) for k, (b, s) in enumerate(zip(begin, size)))]


@_evaluator("GATHER")
def _gather(op: Operator, ins: list[Tensor], out: Tensor) -> np.ndarray | None:
    if len(ins) < 2 or ins[0].data is None or ins[1].data is None or op.options.get("batch_dims", 0):
        return None
    idx = np.asarray(ins[1].data).astype(np.int64)
    axis = int(op.options.get("axis", 0))
    if (idx < 0).any() or (idx >= ins[0].data.shape[axis]).any():
        return None  # TFLM fails such an op at run time: leave the error to the lowering
    return np.take(ins[0].data, idx, axis=axis)


@_evaluator("GATHER_ND")
def _gather_nd(op: Operator, ins: list[Tensor], out: Tensor) -> np.ndarray | None:
    if len(ins) < 2 or ins[0].data is None or ins[1].data is None:
        return None
    data, idx = ins[0].data, np.asarray(ins[1].data).astype(np.int64)
    depth = idx.shape[-1]
    if (idx < 0).any() or (idx >= np.array(data.shape[:depth])).any():
        return None
    return data[tuple(np.moveaxis(idx, -1, 0))]


@_evaluator("TRANSPOSE")
def _transpose(op: Operator, ins: list[Tensor], out: Tensor) -> np.ndarray | None:
    if len(ins) < 2 or ins[0].data is None or ins[1].data is None:
        return None
    return np.transpose(ins[0].data, _const_ints(ins[1]))


def fold_constants(model: Model) -> FoldResult:
    """Evaluate every op whose result is constant; drop ops whose outputs nobody reads."""
    folded_model = copy.copy(model)
    folded_model.tensors = [dataclasses.replace(t) for t in model.tensors]
    result = FoldResult(model=folded_model)
    tensors = folded_model.tensors

    for op in folded_model.operators:
        evaluate = _EVALUATORS.get(op.opcode)
        if evaluate is None or len(op.outputs) != 1 or op.outputs[0] < 0:
            continue
        out = tensors[op.outputs[0]]
        if op.outputs[0] in folded_model.outputs:
            continue  # a model output must be written into the arena by code
        ins = [tensors[i] for i in op.inputs if i >= 0]
        if not ins:
            continue
        try:
            value = evaluate(op, ins, out)
        except (ValueError, IndexError, TypeError):
            value = None
        if value is None:
            continue
        value = np.asarray(value)
        if value.size != out.size:
            continue
        out.data = value.astype(out.numpy_dtype).reshape(out.shape)
        result.folded.append(op.index)

    # Dead ops, iterated backwards so that a chain of dead ops all goes.
    needed = set(folded_model.outputs)
    for op in reversed(folded_model.operators):
        if op.index in result.folded:
            continue
        if op.opcode in SIDE_EFFECT_OPS or any(t in needed for t in op.outputs):
            needed.update(t for t in op.inputs if t >= 0)
        else:
            result.dead.append(op.index)
    result.dead.reverse()
    return result
