"""What is in a .tflite model, and what will trouble a microcontroller: the analysis behind `deploy inspect`.

    report = inspect_model(load_model(path))
    report.total_macs, report.param_bytes, report.arena_bytes, report.warnings
    report.to_json()      # plain dict for --json

Runtime support comes from the modules that own it, imported defensively (a runtime module that is
missing or broken shows as "?" instead of breaking inspect): `aot` from
a dry run of `tinydeploy.aot.codegen` lowering per op (op *and* dtype), `tflm` from the measured op table
`tinydeploy.tflm.ops` plus the tflm preflight's dtype rules.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

from tinydeploy.macs import op_macs
from tinydeploy.model.graph import Model, Operator, Tensor

QUANT_DTYPES = ("int8", "int16", "uint8")
# Ops whose job is changing representation: their float/int mix is expected, never a warning.
CONVERSION_OPS = ("QUANTIZE", "DEQUANTIZE", "CAST")
WEIGHTED_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV", "BATCH_MATMUL",
                "UNIDIRECTIONAL_SEQUENCE_LSTM", "SVDF", "EMBEDDING_LOOKUP")


# --- runtime support ----------------------------------------------------------------------------------


RuntimeSupport = dict[int, str | None]  # op index -> None (runs) or why not


def _aot_support(model: Model) -> tuple[RuntimeSupport, str | None]:
    """A dry run of the aot lowering per op (tinydeploy.aot.codegen.lowering_problems): dtype combinations and
    options included, so what inspect says aot runs is what render generates."""
    from tinydeploy.aot.codegen import lowering_problems

    model_problem, problems = lowering_problems(model)
    if model_problem:
        return {op.index: model_problem for op in model.operators}, model_problem
    return {op.index: problems.get(op.index) for op in model.operators}, None


def _tflm_support(model: Model) -> tuple[RuntimeSupport, str | None]:
    """The op table (what TFLM's interpreter registers) plus the preflight's per-op dtype rules."""
    from tinydeploy.tflm import preflight
    from tinydeploy.tflm.ops import resolver_method

    support: RuntimeSupport = {
        op.index: None if resolver_method(op.opcode) is not None else f"TFLite Micro has no {op.opcode}"
        for op in model.operators}
    by_place = {op.describe(model): op.index for op in model.operators}
    for problem in preflight._hybrid(model):
        if problem.where in by_place:
            support[by_place[problem.where]] = f"{problem.message} -> {problem.fix}"
    for op in model.operators:  # _float16 names the first such op only
        float16 = preflight._float16(_Only(model, op))
        if float16:
            support[op.index] = f"{float16[0].message} -> {float16[0].fix}"
    for problem in preflight._dynamic_shapes(model):
        return {op.index: problem.message for op in model.operators}, f"{problem.message} -> {problem.fix}"
    return support, None


def runtime_checkers() -> dict[str, Callable[[Operator], bool]]:
    """runtime name -> "has it a kernel for this op name?" (name only; `runtime_support` judges op and dtype)."""
    from tinydeploy.aot.lowering import supported_ops
    from tinydeploy.tflm.ops import resolver_method

    aot = set(supported_ops())
    return {"aot": lambda op: op.opcode in aot, "tflm": lambda op: resolver_method(op.opcode) is not None}


class _Only:
    """A view of `model` with one operator: lets a model-wide preflight rule judge a single op."""

    def __init__(self, model: Model, op: Operator) -> None:
        self.tensors, self.operators = model.tensors, [op]


def runtime_support(model: Model) -> dict[str, tuple[RuntimeSupport, str | None] | None]:
    """runtime name -> ({op index: None or why it cannot run}, model-level problem); None when the runtime's
    own module is unavailable (shown as "?")."""
    result: dict[str, tuple[RuntimeSupport, str | None] | None] = {}
    for name, fn in (("aot", _aot_support), ("tflm", _tflm_support)):
        try:
            result[name] = fn(model)
        except ImportError:
            result[name] = None
    return result


def layer_name(tensor_name: str) -> str:
    """The Keras layer behind a converter tensor name: 'model/conv2d_1/Relu;model/conv2d_1/BiasAdd;...' ->
    'model/conv2d_1'."""
    first = tensor_name.split(";")[0]
    parts = first.split("/")
    return "/".join(parts[:-1]) if len(parts) > 1 else first


def describe_op(model: Model, op: Operator) -> str:
    """'CONV_2D (op #3, layer 'model/conv2d_1')': the op, where it sits, and the layer a user wrote."""
    out = model.tensors[op.outputs[0]].name if op.outputs and op.outputs[0] >= 0 else "?"
    return f"{op.opcode} (op #{op.index}, layer '{layer_name(out)}')"


def unsupported_by_builtin_resolver(model: Model) -> list[Operator]:
    """Ops no stock TFLite interpreter knows: custom ops and builtin codes newer than our schema."""
    return [op for op in model.operators if op.is_custom or op.opcode.startswith("BUILTIN_")]


def unsupported_everywhere(model: Model) -> list[Operator]:
    """Ops that no runtime we deploy with can run (runtimes whose support is unavailable are ignored; when
    neither is available, only custom/unknown ops count)."""
    supports = [s[0] for s in runtime_support(model).values() if s is not None]
    if not supports:
        return unsupported_by_builtin_resolver(model)
    return [op for op in model.operators if all(s.get(op.index) for s in supports)]


# --- the report ---------------------------------------------------------------------------------------


@dataclass
class OpReport:
    index: int
    opcode: str
    version: int
    inputs: list[int]
    outputs: list[int]
    output_shape: tuple[int, ...]
    dtype: str
    macs: int
    param_bytes: int
    runtimes: dict[str, bool | None]
    layer: str  # the first output tensor's name: carries the Keras layer path
    why_not: dict[str, str] = field(default_factory=dict)  # runtime -> why it cannot run this op


@dataclass
class InspectReport:
    model: Model
    ops: list[OpReport]
    total_macs: int
    param_bytes: int
    arena_bytes: int
    arena_source: str  # "plan" (tinydeploy.plan.memory) or "estimate" (peak of live tensor bytes)
    warnings: list[str] = field(default_factory=list)
    arena_note: str = ""  # the aot plan's peak and the op that sets it

    @property
    def op_counts(self) -> dict[str, int]:
        return dict(Counter(op.opcode for op in self.ops))

    def to_json(self) -> dict[str, Any]:
        m = self.model
        return {
            "model": str(m.path) if m.path else None,
            "sha256": m.sha256,
            "size_bytes": len(m.raw),
            "inputs": [tensor_json(t) for t in m.input_tensors],
            "outputs": [tensor_json(t) for t in m.output_tensors],
            "ops": [
                {
                    "index": op.index,
                    "opcode": op.opcode,
                    "version": op.version,
                    "layer": op.layer,
                    "inputs": op.inputs,
                    "outputs": op.outputs,
                    "output_shape": list(op.output_shape),
                    "dtype": op.dtype,
                    "macs": op.macs,
                    "param_bytes": op.param_bytes,
                    "runtimes": op.runtimes,
                }
                for op in self.ops
            ],
            "op_counts": self.op_counts,
            "tensors": [tensor_json(t) for t in m.tensors],
            "total_macs": self.total_macs,
            "param_bytes": self.param_bytes,
            "memory": {"arena_bytes": self.arena_bytes, "source": self.arena_source, "note": self.arena_note},
            "warnings": self.warnings,
        }


def tensor_kind(model: Model, t: Tensor) -> str:
    if t.index in model.inputs:
        return "input"
    if t.index in model.outputs:
        return "output"
    return "constant" if t.is_constant else "activation"


def quant_json(t: Tensor) -> dict[str, Any] | None:
    if t.quant is None:
        return None
    return {
        "per_channel": t.quant.per_channel,
        "axis": t.quant.axis if t.quant.per_channel else None,
        "scale": [float(s) for s in t.quant.scale],
        "zero_point": [int(z) for z in t.quant.zero_point],
    }


def tensor_json(t: Tensor) -> dict[str, Any]:
    return {
        "index": t.index,
        "name": t.name,
        "shape": list(t.shape),
        "dtype": t.dtype,
        "bytes": t.nbytes,
        "constant": t.is_constant,
        "quant": quant_json(t),
    }


def _param_bytes(model: Model, op: Operator, seen_buffers: set[int]) -> int:
    """Bytes of constant inputs first used by this op (shared buffers are counted once)."""
    total = 0
    for i in op.inputs:
        if i < 0:
            continue
        t = model.tensors[i]
        if t.is_constant and t.buffer not in seen_buffers:
            seen_buffers.add(t.buffer)
            total += t.data.nbytes if t.data is not None else 0
    return total


def estimate_peak_bytes(model: Model) -> int:
    """Peak over time of the bytes of live non-constant tensors (no aliasing, no fragmentation)."""
    first: dict[int, int] = {t: -1 for t in model.inputs}
    last: dict[int, int] = {}
    end = len(model.operators)
    for op in model.operators:
        for t in op.outputs:
            if t >= 0:
                first.setdefault(t, op.index)
        for t in op.inputs:
            if t >= 0 and not model.tensors[t].is_constant:
                last[t] = op.index
    for t in model.outputs:
        last[t] = end
    peak = 0
    for now in range(-1, end + 1):
        live = sum(model.tensors[t].nbytes for t, start in first.items()
                   if not model.tensors[t].is_constant and start <= now <= last.get(t, start))
        peak = max(peak, live)
    return peak


def _arena(model: Model) -> tuple[int, str, str]:
    """(arena bytes, source, note): the aot generator's own plan when it runs the model (in-place ops and
    outputs over inputs as the lowerings allow them), else the planner on the bare graph."""
    try:
        from tinydeploy.aot.codegen import generate
        from tinydeploy.aot.lowering import TargetFeatures

        plan = generate(model, TargetFeatures()).plan
        peak, at = plan.peak()
        where = f"op #{at} {plan.model.operators[at].opcode}" if plan.model and 0 <= at < len(plan.model.operators) \
            else "the model input"
        note = (f"aot plan: peak {peak:,} B live at {where}; --memory-priority ram may trade instructions for "
                f"less (deploy render --memory-priority ram --plan)")
        return int(plan.arena_bytes), "plan", note
    except Exception:  # a model the aot runtime cannot run: the bare graph's plan
        pass
    try:
        from tinydeploy.plan.memory import plan_memory

        return int(plan_memory(model).arena_bytes), "plan", ""
    except Exception:  # the planner is optional here; fall back to our own lower bound
        return estimate_peak_bytes(model), "estimate", ""


def inspect_model(model: Model) -> InspectReport:
    support = runtime_support(model)
    seen: set[int] = set()
    ops = []
    for op in model.operators:
        out = model.tensors[op.outputs[0]] if op.outputs and op.outputs[0] >= 0 else None
        ops.append(
            OpReport(
                index=op.index,
                opcode=op.opcode,
                version=op.version,
                inputs=op.inputs,
                outputs=op.outputs,
                output_shape=out.shape if out else (),
                dtype=out.dtype if out else "?",
                macs=op_macs(model, op),
                param_bytes=_param_bytes(model, op, seen),
                runtimes={name: (None if sup is None else sup[0].get(op.index) is None)
                          for name, sup in support.items()},
                layer=layer_name(out.name) if out else "?",
                why_not={name: sup[0][op.index] for name, sup in support.items()
                         if sup is not None and sup[0].get(op.index)},
            )
        )
    arena, source, note = _arena(model)
    param_bytes = sum(len(t.data.tobytes()) for t in _unique_constants(model))
    report = InspectReport(model, ops, sum(o.macs for o in ops), param_bytes, arena, source, arena_note=note)
    report.warnings = model_warnings(model, ops)
    report.warnings.extend(f"the {name} runtime cannot run this model: {sup[1]}"
                           for name, sup in support.items() if sup is not None and sup[1])
    return report


def _unique_constants(model: Model) -> list[Tensor]:
    by_buffer: dict[int, Tensor] = {}
    for t in model.tensors:
        if t.is_constant:
            by_buffer.setdefault(t.buffer, t)
    return list(by_buffer.values())


def _tflm_version_warnings(model: Model) -> list[str]:
    """Ops whose version is above the highest one verified with TFLM's interpreter (tinydeploy.tflm.ops)."""
    try:
        from tinydeploy.tflm.ops import TFLM_OPS
    except Exception:
        return []
    result = []
    seen: set[str] = set()
    for op in model.operators:
        known = TFLM_OPS.get(op.opcode)
        limit = getattr(known, "max_version", None)
        if limit is not None and op.version > limit and op.opcode not in seen:
            seen.add(op.opcode)
            result.append(f"{describe_op(model, op)} is version {op.version}; tflm was verified up to "
                          f"version {limit}")
    return result


# --- warnings -----------------------------------------------------------------------------------------


def _activation_dtypes(model: Model) -> set[str]:
    return {t.dtype for t in model.tensors if not t.is_constant}


def model_warnings(model: Model, ops: list[OpReport]) -> list[str]:
    warnings: list[str] = []
    by_index = {op.index: op for op in model.operators}
    quantized = bool(_activation_dtypes(model) & {"int8", "int16"})

    float_ops = [r for r in ops if r.dtype == "float32" and r.opcode not in CONVERSION_OPS]
    if quantized and float_ops:
        names = ", ".join(f"{r.opcode} (op #{r.index}, '{r.layer}')" for r in float_ops[:5])
        warnings.append(f"{len(float_ops)} float op(s) left in a quantized model: {names}; "
                        "they run in float on the device (slow without an FPU)")

    hybrid = []
    for op in model.operators:
        if op.opcode not in WEIGHTED_OPS or len(op.inputs) < 2:
            continue
        x, w = (model.tensors[i] if i >= 0 else None for i in op.inputs[:2])
        if x is not None and w is not None and x.dtype == "float32" and w.dtype in ("int8", "uint8"):
            hybrid.append(op)
    if hybrid:
        names = ", ".join(describe_op(model, op) for op in hybrid[:5])
        warnings.append(f"{len(hybrid)} hybrid (dynamic-range) op(s) with int8 weights and float activations: "
                        f"{names}; convert with --mode int8 for integer-only inference")

    legacy = [op for op in model.operators if op.opcode not in CONVERSION_OPS
              and any(i >= 0 and model.tensors[i].dtype == "uint8" and model.tensors[i].quant is not None
                      for i in op.inputs + op.outputs)]
    if legacy:
        warnings.append(f"legacy uint8 quantization in {describe_op(model, legacy[0])} and {len(legacy) - 1} more: "
                        "micro runtimes expect int8; reconvert with --mode int8 (use --io-dtype uint8 if the "
                        "application feeds uint8)")

    if any(op.opcode == "DEQUANTIZE" and model.tensors[op.inputs[0]].is_constant
           and model.tensors[op.inputs[0]].dtype == "float16" for op in model.operators):
        warnings.append("float16 weights are dequantized to float32 at load: no memory saved on the device "
                        "arena, float kernels at run time")

    nowhere = [r for r in ops if r.runtimes and all(v is False for v in r.runtimes.values())]
    for r in nowhere[:3]:
        warnings.append(f"no runtime supports {describe_op(model, by_index[r.index])}")
    for name in ("aot", "tflm"):
        missing = [r for r in ops if r.runtimes.get(name) is False and r not in nowhere]
        if missing:
            kinds = sorted({r.opcode for r in missing})
            first = describe_op(model, by_index[missing[0].index])
            why = missing[0].why_not.get(name, "").split("): ", 1)[-1]  # the reason, not the op again
            warnings.append(f"the {name} runtime cannot run {', '.join(kinds)} (first: {first})"
                            + (f": {why}" if why and "cannot run this model" not in why else ""))
    warnings.extend(_tflm_version_warnings(model))
    if model.num_subgraphs > 1:
        warnings.append(f"the model has {model.num_subgraphs} subgraphs; only the first is analysed")
    return warnings
