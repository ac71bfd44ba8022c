"""The one validation pass every consumer of a parsed model relies on (inspect, render aot/tflm, run).

A .tflite file is untrusted input: a flatbuffer can be well-formed and still describe nonsense (a tensor index
past the end, a -1 dimension, a buffer shorter than its shape, a NaN scale, an op reading a tensor no op writes,
a cycle).  `validate_model` checks those invariants once, at load, and raises a one-line `UserError` naming the
file, the tensor or op (index and name) and what is wrong.  After it, later stages may index tensors, multiply
shapes and divide by scales without guarding each use.

Checked: tensor shapes (no negative dims, bounded byte sizes), shape signatures, quantization (finite positive
scales, zero points in the stored type's range, per-channel axis and counts), operator operand indices (in range,
-1 only for an omitted optional input) and counts, model input/output indices, one writer per tensor, execution
order (every tensor an op reads is a model input, a constant, a variable or written by an earlier op; a cycle
is named as such), and that every model output is written by an op or is an input.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tinydeploy.errors import UserError
from tinydeploy.model.schema import OP_ARITY, ZERO_POINT_RANGE

if TYPE_CHECKING:
    from tinydeploy.model.graph import Model, Operator, Tensor

# Largest tensor accepted: its byte size must fit the firmware's 32-bit sizes and offsets.
MAX_TENSOR_BYTES = (1 << 31) - 1
# Largest rank: TFLite kernels handle at most 6 dimensions (TFLM fewer); 8 leaves room without inviting abuse.
MAX_RANK = 8

# Ops that legitimately write no tensor: they act on resource variables or run another subgraph.
NO_OUTPUT_OPS = ("CALL_ONCE", "ASSIGN_VARIABLE")

CORRUPT = "the file is corrupt or was edited; convert the model again"

# Ranks of the operands whose layout every consumer unpacks (macs, inspect, lowering, the bounds rules):
# op -> {input slot: (fewest, most dimensions)}.  TFLite's kernels require exactly these.
OPERAND_RANKS: dict[str, dict[int, tuple[int, int]]] = {
    "CONV_2D": {0: (4, 4), 1: (4, 4)}, "DEPTHWISE_CONV_2D": {0: (4, 4), 1: (4, 4)},
    "TRANSPOSE_CONV": {1: (4, 4), 2: (4, 4)}, "CONV_3D": {0: (5, 5), 1: (5, 5)},
    "FULLY_CONNECTED": {1: (2, 2)}, "BATCH_MATMUL": {0: (2, MAX_RANK), 1: (2, MAX_RANK)},
    "AVERAGE_POOL_2D": {0: (4, 4)}, "MAX_POOL_2D": {0: (4, 4)},
}


def validate_model(model: "Model", where: str) -> None:
    """Raise UserError (naming `where`, the tensor or op, and the fault) unless `model` is consistent."""
    for tensor in model.tensors:
        _check_shape(tensor, where)
        _check_quantization(tensor, where)
    for op in model.operators:
        _check_operands(model, op, where)
    _check_io(model, where)
    _check_dataflow(model, where)


# --- tensors ------------------------------------------------------------------------------------------------


def _check_shape(t: "Tensor", where: str) -> None:
    name = f"{where}: {t.describe()}"
    if len(t.shape) > MAX_RANK:
        raise UserError(f"{name} has rank {len(t.shape)} (shape {list(t.shape)}); at most {MAX_RANK} is supported")
    for axis, d in enumerate(t.shape):
        if d < 0:
            raise UserError(f"{name} has shape {list(t.shape)}: dimension {axis} is {d}; a .tflite shape must be "
                            "static (a dynamic batch belongs in shape_signature)",
                            hint="convert again with a fixed batch size, e.g. deploy convert ... (batch 1)")
    if t.nbytes > MAX_TENSOR_BYTES:
        raise UserError(f"{name} has shape {list(t.shape)} of {t.dtype}: {t.nbytes} bytes, more than any "
                        f"microcontroller holds (limit {MAX_TENSOR_BYTES}); {CORRUPT}")
    sig = t.shape_signature
    if sig is not None and sig:
        if len(sig) != len(t.shape):
            raise UserError(f"{name} has shape {list(t.shape)} but shape_signature {list(sig)} of another rank; "
                            f"{CORRUPT}")
        bad = [d for d in sig if d < -1]
        if bad:
            raise UserError(f"{name} has shape_signature {list(sig)}: {bad[0]} is neither a size nor -1 (dynamic); "
                            f"{CORRUPT}")


def _check_quantization(t: "Tensor", where: str) -> None:
    q = t.quant
    if q is None:
        return
    name = f"{where}: {t.describe()}"
    scale = np.asarray(q.scale, dtype=np.float64)
    bad = scale[~(np.isfinite(scale) & (scale > 0))]
    if bad.size:
        raise UserError(f"{name} has quantization scale {float(bad[0])!r}; scales must be finite and > 0; {CORRUPT}")
    zp = np.asarray(q.zero_point)
    if zp.size not in (1, scale.size):
        raise UserError(f"{name} has {scale.size} quantization scales but {zp.size} zero points; {CORRUPT}")
    lo, hi = ZERO_POINT_RANGE.get(t.dtype, (None, None))
    if lo is not None and zp.size and (zp.min() < lo or zp.max() > hi):
        value = int(zp.min()) if zp.min() < lo else int(zp.max())
        raise UserError(f"{name} is {t.dtype} with zero point {value}, outside [{lo}, {hi}]; {CORRUPT}")
    if scale.size > 1:
        axis = q.axis
        if not 0 <= axis < len(t.shape):
            raise UserError(f"{name} is quantized per channel along axis {axis}, but has shape {list(t.shape)}; "
                            f"{CORRUPT}")
        if scale.size != t.shape[axis]:
            raise UserError(f"{name} has {scale.size} per-channel scales for {t.shape[axis]} channels "
                            f"(axis {axis} of shape {list(t.shape)}); {CORRUPT}")


# --- operators ----------------------------------------------------------------------------------------------


def _op_name(model: "Model", op: "Operator") -> str:
    """The op, its index and (when its first output is valid) the tensor it writes."""
    outs = [t for t in op.outputs if 0 <= t < len(model.tensors)]
    suffix = f", output tensor '{model.tensors[outs[0]].name}'" if outs else ""
    return f"{op.opcode} (op #{op.index}{suffix})"


def _check_operands(model: "Model", op: "Operator", where: str) -> None:
    n = len(model.tensors)
    for slot, t in enumerate(op.inputs):
        if t == -1:
            continue
        if not 0 <= t < n:
            raise UserError(f"{where}: {_op_name(model, op)} input {slot} names tensor {t}; the model has tensors "
                            f"0..{n - 1} (-1 marks an omitted optional input); {CORRUPT}")
    for slot, t in enumerate(op.outputs):
        if not 0 <= t < n:
            raise UserError(f"{where}: {_op_name(model, op)} output {slot} names tensor {t}; the model has tensors "
                            f"0..{n - 1}; {CORRUPT}")
    if not op.outputs and op.opcode not in NO_OUTPUT_OPS:
        raise UserError(f"{where}: {_op_name(model, op)} has no outputs; {CORRUPT}")
    for t in [*op.inputs, *op.outputs]:
        if t >= 0 and not model.tensors[t].is_constant and 0 in model.tensors[t].shape:
            tensor = model.tensors[t]
            raise UserError(f"{where}: {_op_name(model, op)} uses {tensor.describe()} of shape {list(tensor.shape)}, "
                            f"an empty activation; {CORRUPT}")
    arity = OP_ARITY.get(op.opcode)
    if arity is None:
        return
    fewest, most, most_out = arity
    present = len(op.inputs)
    if present < fewest or present > most:
        expected = str(fewest) if fewest == most else f"{fewest} to {most}"
        raise UserError(f"{where}: {_op_name(model, op)} has {present} inputs; {op.opcode} takes {expected}; "
                        f"{CORRUPT}")
    missing = [slot for slot in range(fewest) if op.inputs[slot] == -1]
    if missing:
        raise UserError(f"{where}: {_op_name(model, op)} input {missing[0]} is omitted (-1), but {op.opcode} "
                        f"requires it; {CORRUPT}")
    if len(op.outputs) > most_out:
        raise UserError(f"{where}: {_op_name(model, op)} has {len(op.outputs)} outputs; {op.opcode} writes "
                        f"{most_out}; {CORRUPT}")
    for slot, (lo, hi) in OPERAND_RANKS.get(op.opcode, {}).items():
        if slot < len(op.inputs) and op.inputs[slot] >= 0:
            tensor = model.tensors[op.inputs[slot]]
            if not lo <= len(tensor.shape) <= hi:
                rank = str(lo) if lo == hi else f"{lo} to {hi}"
                raise UserError(f"{where}: {_op_name(model, op)} input {slot} {tensor.describe()} has shape "
                                f"{list(tensor.shape)}; {op.opcode} takes {rank} dimensions there; {CORRUPT}")


def _check_io(model: "Model", where: str) -> None:
    n = len(model.tensors)
    for kind, indices in (("input", model.inputs), ("output", model.outputs)):
        for pos, t in enumerate(indices):
            if not 0 <= t < n:
                raise UserError(f"{where}: model {kind} {pos} names tensor {t}; the model has tensors 0..{n - 1}; "
                                f"{CORRUPT}")
            if 0 in model.tensors[t].shape:
                raise UserError(f"{where}: model {kind} {model.tensors[t].describe()} has shape "
                                f"{list(model.tensors[t].shape)}, an empty tensor; {CORRUPT}")
    if not model.outputs:
        raise UserError(f"{where}: the model declares no outputs; {CORRUPT}")


def _check_dataflow(model: "Model", where: str) -> None:
    """One writer per tensor, and the ops in an order that runs: every input ready before the op reads it."""
    writer: dict[int, int] = {}
    inputs = set(model.inputs)
    for op in model.operators:
        for t in op.outputs:
            tensor = model.tensors[t]
            if t in writer:
                raise UserError(f"{where}: {tensor.describe()} is written by op #{writer[t]} and by "
                                f"{_op_name(model, op)}; {CORRUPT}")
            if t in inputs:
                raise UserError(f"{where}: {_op_name(model, op)} writes model input {tensor.describe()}; {CORRUPT}")
            if tensor.is_constant:
                raise UserError(f"{where}: {_op_name(model, op)} writes constant {tensor.describe()}; {CORRUPT}")
            writer[t] = op.index
    for op in model.operators:
        for t in op.inputs:
            if t < 0 or t in inputs:
                continue
            tensor = model.tensors[t]
            if tensor.is_constant or tensor.is_variable:
                continue
            if t not in writer:
                raise UserError(f"{where}: {_op_name(model, op)} reads {tensor.describe()}, which no op writes and "
                                f"which is neither a model input nor a constant; {CORRUPT}")
            if writer[t] >= op.index:
                cycle = _cycle_through(model, writer, op.index)
                if cycle:
                    path = " -> ".join(f"#{i} {model.operators[i].opcode}" for i in cycle)
                    raise UserError(f"{where}: the graph has a cycle ({path}); {CORRUPT}")
                raise UserError(f"{where}: {_op_name(model, op)} reads {tensor.describe()} before op #{writer[t]} "
                                f"writes it (operators out of order); {CORRUPT}")
    for t in model.outputs:
        if t not in writer and t not in inputs and not model.tensors[t].is_constant:
            raise UserError(f"{where}: model output {model.tensors[t].describe()} is written by no op and is not "
                            f"an input; {CORRUPT}")


def _cycle_through(model: "Model", writer: dict[int, int], start: int) -> list[int]:
    """A dependency cycle through op `start` (op indices, start first and last), or [] if there is none."""
    def deps(i: int) -> list[int]:
        return [writer[t] for t in model.operators[i].inputs if t >= 0 and t in writer]

    parent: dict[int, int] = {}
    stack = [start]
    seen = {start}
    while stack:  # iterative search, so that a long chain cannot exhaust Python's recursion limit
        i = stack.pop()
        for j in deps(i):
            if j == start:
                path = [i]  # data flows start -> i -> parent[i] -> ... -> start
                while path[-1] != start:
                    path.append(parent[path[-1]])
                return [start, *path]
            if j not in seen:
                seen.add(j)
                parent[j] = i
                stack.append(j)
    return []

