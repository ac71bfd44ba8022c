"""Preflight for the tflm runtime: everything that would make the sketch fail, found before any build.

Each check yields `Problem`s naming the layer (op, index and output tensor) and the fix.  `check()` returns
them all and raises one UserError listing the errors, so a user sees every problem at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from tinydeploy.errors import UnsupportedOpError, UserError
from tinydeploy.model.dynamic import FIX as DYNAMIC_FIX
from tinydeploy.model.dynamic import dynamic_dims_error
from tinydeploy.model.graph import Model, Operator
from tinydeploy.tflm.arena import HostMeasurement, measure_host
from tinydeploy.tflm.ops import TFLM_OPS, resolver_method

SCHEMA_VERSION = 3  # TFLITE_SCHEMA_VERSION that TFLM's GetModel() accepts
MAX_ACCESS_ALIGN = 4  # the strictest alignment any Cortex-M load needs (LDR/LDRD/LDM: word-aligned)
REQUANTIZE_FIX = ("re-convert with a representative dataset: deploy convert --mode int8 --rep-data DATA "
                  "(full-integer quantization)")
# Ops whose weights are inputs[1]: float activations with int8 weights there means a hybrid kernel.
_WEIGHTED_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV", "BATCH_MATMUL", "SVDF",
                 "UNIDIRECTIONAL_SEQUENCE_LSTM", "EMBEDDING_LOOKUP")


@dataclass(frozen=True)
class Problem:
    severity: str  # "error" or "warning"
    where: str  # the layer: "CONV_2D (op #3, output tensor 'conv1')", or "model"
    message: str
    fix: str

    def __str__(self) -> str:
        return f"{self.severity}: {self.where}: {self.message} -> {self.fix}"


def check(model: Model, *, run_host: bool = True, host: HostMeasurement | None = None) -> list[Problem]:
    """All problems; raises UnsupportedOpError/UserError (listing every error) when any is an error.

    run_host: also run the model in TFLM's host interpreter, which executes every kernel's Prepare and
    Eval for real (catches type combinations the op table cannot know about).
    """
    problems = [*_schema(model), *_ops(model), *_hybrid(model), *_float16(model), *_dynamic_shapes(model),
                *_alignment(model), *_op_shapes(model)]
    if run_host and not any(p.severity == "error" for p in problems):
        problems.extend(_host_run(model, host or measure_host(model)))
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        where = model.path or "the model"
        lines = "\n  ".join(str(p) for p in errors)
        cls = UnsupportedOpError if any("not supported" in p.message for p in errors) else UserError
        raise cls(f"{where}: {len(errors)} problem(s) for the tflm runtime:\n  {lines}")
    return problems


def _op_shapes(model: Model) -> list[Problem]:
    """Declared shapes an op cannot produce (a corrupt or edited file): TFLM sizes some loops from the output
    (a Dense declared [2,10] reads two rows of a one-row input), so these never reach its interpreter."""
    from tinydeploy.aot.bounds import op_bounds_problem

    return [Problem("error", op.describe(model), f"{problem} (the file is corrupt or was edited)",
                    "convert the model again")
            for op in model.operators if (problem := op_bounds_problem(model, op))]


def _schema(model: Model) -> list[Problem]:
    if model.version != SCHEMA_VERSION:
        return [Problem("error", "model", f"schema version {model.version}, TFLM accepts only {SCHEMA_VERSION}",
                        "re-convert the model with a current TensorFlow (deploy convert ...)")]
    return []


def _ops(model: Model) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[tuple[str, int]] = set()
    for op in model.operators:
        if (op.opcode, op.version) in seen:
            continue
        seen.add((op.opcode, op.version))
        where = op.describe(model)
        if resolver_method(op.opcode) is None:
            problems.append(Problem("error", where, f"{op.opcode} is not supported by the pinned TFLite Micro",
                                    _unsupported_fix(op)))
            continue
        known = TFLM_OPS.get(op.opcode)
        if known and known.max_version is not None and op.version > known.max_version:
            problems.append(Problem(
                "warning", where,
                f"{op.opcode} version {op.version} is above the highest version verified with TFLM "
                f"({known.max_version}); TFLM does not check versions, its kernel may reject the new feature",
                "the host-interpreter run below decides; if the device fails, re-convert without the feature"))
    return problems


def _unsupported_fix(op: Operator) -> str:
    hints = {
        "TILE": "UpSampling2D lowers to TILE: use UpSampling2D(interpolation='bilinear') or Conv2DTranspose",
        "SHAPE": "give the model a fixed batch size (keras.Input(shape, batch_size=1)) so no SHAPE op remains",
        "FLEX": "remove the TensorFlow (Flex) op: convert with TFLite builtins only",
    }
    for key, hint in hints.items():
        if key in op.opcode:
            return hint
    return "change the layer so the converter emits TFLM builtins (see docs/tflm.md), or use --runtime aot"


def _hybrid(model: Model) -> list[Problem]:
    """Dynamic-range (hybrid) ops: float activations with int8 constant weights; TFLM has no such kernels."""
    problems = []
    for op in model.operators:
        if op.opcode not in _WEIGHTED_OPS or len(op.inputs) < 2 or min(op.inputs[:2]) < 0:
            continue
        act, weights = model.tensors[op.inputs[0]], model.tensors[op.inputs[1]]
        if act.dtype == "float32" and weights.is_constant and weights.dtype in ("int8", "uint8", "int4"):
            problems.append(Problem(
                "error", op.describe(model),
                "dynamic-range (hybrid) quantization: float activations with int8 weights; TFLM rejects "
                "hybrid kernels by design", REQUANTIZE_FIX))
    return problems


def _float16(model: Model) -> list[Problem]:
    """float16 weights (--mode float16) reach TFLM as DEQUANTIZE float16 -> float32; TFLM's DEQUANTIZE only
    takes int8/int16/uint8 (dequantize_common.cc), so the model cannot run."""
    for op in model.operators:
        if op.opcode == "DEQUANTIZE" and op.inputs and model.tensors[op.inputs[0]].dtype == "float16":
            return [Problem("error", op.describe(model),
                            "float16 weights: TFLM's DEQUANTIZE accepts int8/int16/uint8 inputs only",
                            "convert with --mode float32, or better --mode int8 --rep-data DATA")]
    return []


def _dynamic_shapes(model: Model) -> list[Problem]:
    """A -1 batch is run as batch 1 (TFLM ignores shape_signature); other dynamic dimensions are refused."""
    error = dynamic_dims_error(model)
    return [Problem("error", "model", error, DYNAMIC_FIX)] if error else []


def _alignment(model: Model) -> list[Problem]:
    """Constant data must be aligned in memory: TFLM reads it in place from the array, and a misaligned int32
    bias or float weight faults on Cortex-M0+ (and on LDRD/LDM everywhere).  No Cortex-M access needs more
    than word alignment (LDRD/LDM take 4-byte aligned addresses), so int64 biases need 4 bytes, not 8.  The
    array is 16-byte aligned (alignas(16) in model_data.cc), so an offset inside the flatbuffer that is a
    multiple of min(element size, 4) is enough."""
    misaligned = [(name, offset, min(size, MAX_ACCESS_ALIGN)) for name, offset, size in buffer_offsets(model.raw)
                  if offset % min(size, MAX_ACCESS_ALIGN)]
    if not misaligned:
        return []
    name, offset, size = misaligned[0]
    return [Problem(
        "error", f"constant data of tensor '{name}'",
        f"{len(misaligned)} constant buffer(s) not aligned to their element size (first: offset {offset}, "
        f"needs {size}-byte alignment); TFLM reads weights in place and the CPU faults on misaligned loads",
        "re-align the flatbuffer: python -m tflite_micro.tensorflow.lite.micro.tools.tflite_flatbuffer_align "
        "IN.tflite OUT.tflite")]


_ELEMENT_BYTES = {0: 4, 1: 2, 2: 4, 4: 8, 7: 2, 8: 8, 10: 8, 11: 16, 12: 8, 15: 4, 16: 2}  # TensorType code -> bytes


def buffer_offsets(raw: bytes) -> list[tuple[str, int, int]]:
    """(tensor name, byte offset of its constant data in the flatbuffer, element size) for subgraph 0."""
    from flatbuffers import number_types as N
    from flatbuffers.table import Table

    buf = bytearray(raw)

    def table(pos: int) -> Table:
        return Table(buf, pos)

    def field_table(t: Table, slot: int) -> Table | None:
        o = t.Offset(4 + 2 * slot)
        return table(t.Indirect(o + t.Pos)) if o else None

    def vector(t: Table, slot: int) -> tuple[int, int]:
        o = t.Offset(4 + 2 * slot)
        return (t.Vector(o), t.VectorLen(o)) if o else (0, 0)

    root = table(int.from_bytes(raw[0:4], "little"))
    bstart, bcount = vector(root, 4)  # Model.buffers
    sstart, scount = vector(root, 2)  # Model.subgraphs
    if not scount:
        return []
    sg = table(root.Indirect(sstart))
    tstart, tcount = vector(sg, 0)  # SubGraph.tensors
    result = []
    for i in range(tcount):
        t = table(sg.Indirect(tstart + 4 * i))
        o = t.Offset(4 + 2 * 2)  # Tensor.buffer
        index = t.Get(N.Uint32Flags, o + t.Pos) if o else 0
        if index <= 0 or index >= bcount:
            continue
        b = table(root.Indirect(bstart + 4 * index))
        dstart, dlen = vector(b, 0)  # Buffer.data
        if dlen:
            name_o = t.Offset(4 + 2 * 3)
            name = t.String(name_o + t.Pos).decode("utf-8", "replace") if name_o else f"tensor_{i}"
            type_o = t.Offset(4 + 2 * 1)  # Tensor.type
            type_code = t.Get(N.Int8Flags, type_o + t.Pos) if type_o else 0
            result.append((name, dstart, _ELEMENT_BYTES.get(int(type_code), 1)))
    return result


def _host_run(model: Model, host: HostMeasurement) -> list[Problem]:
    if not host.error:
        return []
    text = f"{host.error}\n{host.log}"
    for op in model.operators:
        if f"'{op.opcode}'" in text or f"Node {op.opcode} (number {op.index})" in text:
            return [Problem("error", op.describe(model), f"TFLM's interpreter failed: {_first_tflm_line(host)}",
                            _unsupported_fix(op) if "find op" in text else
                            "check the layer's dtype/quantization against TFLM's kernels")]
    return [Problem("error", "model", f"TFLM's host interpreter failed: {_first_tflm_line(host)}",
                    "see the TFLM log with: python -m tinydeploy.tflm.arena MODEL")]


def _first_tflm_line(host: HostMeasurement) -> str:
    lines = [ln.strip() for ln in host.log.splitlines() if ln.strip()]
    return lines[0] if lines else host.error
