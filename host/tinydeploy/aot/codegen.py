"""The aot code generator: one .tflite model -> plain C that runs exactly that model.

    program = generate(load_model("model.tflite"), TargetFeatures(cpu="cortex-m4", dsp=True))
    program.files["model.c"], program.files["model.h"]   # generated sources
    program.kernel_sources                                # firmware/aot/kernels/*.c the model needs
    program.arena_bytes, program.plan.table()

Steps: fold constant subgraphs (aot/fold.py) -> lower every remaining op through its registered lowering
(aot/ops/*.py, contract in aot/lowering.py), collecting C statements, constants, scratch, in-place and alias
requests -> plan the arena (plan/memory.py) -> render model.c/model.h from templates/aot/.
Lowerings refer to arena tensors through offset macros (TD_OFF_T<index>) that the plan fills in afterwards.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import numpy as np

from tinydeploy.aot import recompute
from tinydeploy.aot.bounds import check_op_bounds
from tinydeploy.aot.fold import FoldResult, fold_constants
from tinydeploy.aot.lowering import LoweringContext, TargetFeatures, lookup
from tinydeploy.errors import UnsupportedOpError, UserError
from tinydeploy.model.dynamic import FIX as DYNAMIC_FIX
from tinydeploy.model.dynamic import dynamic_dims_error
from tinydeploy.model.graph import Model, Operator, Tensor
from tinydeploy.paths import firmware_dir, templates_dir
from tinydeploy.plan.memory import MemoryPlan, Scratch, check_plan, plan_memory
from tinydeploy.plan.overlap import raster_overlaps

C_TYPES = {
    "int8": "int8_t",
    "uint8": "uint8_t",
    "int16": "int16_t",
    "int32": "int32_t",
    "int64": "int64_t",
    "float32": "float",
    "bool": "uint8_t",
}
# td_runtime.h's enum td_dtype (TFLite TensorType numbering)
DTYPE_CODES = {"float32": 0, "int32": 2, "uint8": 3, "int16": 7, "int8": 9, "bool": 6, "int64": 4}

ADVICE = "use --runtime tflm"
MAX_ARENA_BYTES = (1 << 31) - 1


def kernels_dir() -> Path:
    return firmware_dir() / "aot" / "kernels"


def runtime_sources() -> list[Path]:
    """The static C files every aot program links besides its kernels (td_runtime.h adapter)."""
    return [firmware_dir() / "aot" / "td_runtime_aot.c"]


@dataclass
class TensorInfo:
    """What a caller needs to feed or read one model input/output."""

    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str
    scale: float
    zero_point: int
    nbytes: int


@dataclass
class OpCode:
    """One op's slot in model_invoke()."""

    index: int
    opcode: str
    comment: str
    lines: list[str] = field(default_factory=list)


@dataclass
class ConstArray:
    ident: str
    ctype: str
    values: np.ndarray
    align: int
    comment: str = ""

    @property
    def nbytes(self) -> int:
        return int(self.values.nbytes)


@dataclass
class AotProgram:
    model: Model  # after constant folding
    target: TargetFeatures
    files: dict[str, str]  # generated file name -> content ("model.c", "model.h")
    kernels: list[str]  # kernel names (firmware/aot/kernels/<name>.c/.h)
    kernel_sources: list[Path]  # the .c files to compile (kernels + runtime adapter)
    include_dirs: list[Path]
    arena_bytes: int
    plan: MemoryPlan
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]
    weights_bytes: int  # bytes of const arrays (flash)
    folded_ops: list[int]
    dead_ops: list[int]
    op_count: int  # ops that run code

    def write(self, out_dir: Path) -> list[Path]:
        """Write the generated files (not the kernels) into out_dir; returns their paths."""
        out_dir.mkdir(parents=True, exist_ok=True)
        written = []
        for name, text in self.files.items():
            path = out_dir / name
            tmp = path.with_suffix(path.suffix + ".tmp")
            tmp.write_text(text)
            tmp.replace(path)
            written.append(path)
        return written


# --- the lowering context --------------------------------------------------------------------------------


class _Context:
    """Implements LoweringContext for one program; `op` is the operator being lowered."""

    def __init__(self, model: Model, target: TargetFeatures) -> None:
        self.model = model
        self.target = target
        self.op: Operator | None = None
        self.ops: list[OpCode] = []
        self.consts: list[ConstArray] = []
        self.const_idents: set[str] = set()
        self.tensor_consts: dict[int, str] = {}
        self.structs: list[str] = []
        self.kernels: list[str] = []
        self.scratch_list: list[Scratch] = []
        self.inplace: list[tuple[int, int, int]] = []
        self.aliases: list[tuple[int, int, int]] = []
        self.arena_tensors: set[int] = set()
        self.op_kernels: dict[int, set[str]] = {}  # op index -> the kernels its code calls

    # -- tensors
    def input(self, op: Operator, i: int) -> Tensor:
        if i >= len(op.inputs) or op.inputs[i] < 0:
            raise self.unsupported(op, f"input {i} is missing")
        return self.model.tensors[op.inputs[i]]

    def has_input(self, op: Operator, i: int) -> bool:
        """Whether the optional input i is present (e.g. a bias)."""
        return i < len(op.inputs) and op.inputs[i] >= 0

    def output(self, op: Operator, i: int) -> Tensor:
        if i >= len(op.outputs) or op.outputs[i] < 0:
            raise self.unsupported(op, f"output {i} is missing")
        return self.model.tensors[op.outputs[i]]

    def ptr(self, tensor: Tensor, ctype: str | None = None) -> str:
        own = C_TYPES.get(tensor.dtype)
        if own is None:
            raise self.unsupported(self._current(), f"tensor '{tensor.name}' has type {tensor.dtype}")
        ctype = ctype or own
        if tensor.is_constant:
            ident = self.tensor_consts.get(tensor.index)
            if ident is None:
                ident = self._unique(f"td_t{tensor.index}")
                values = np.ascontiguousarray(tensor.data).reshape(-1).astype(tensor.numpy_dtype)
                self.consts.append(ConstArray(ident, own, values, 16, f"'{tensor.name}' {list(tensor.shape)}"))
                self.const_idents.add(ident)
                self.tensor_consts[tensor.index] = ident
            return ident if ctype == own else f"((const {ctype} *){ident})"
        self.arena_tensors.add(tensor.index)
        return f"(({ctype} *)(td_arena + TD_OFF_T{tensor.index}))"

    # -- constants
    def const(self, name: str, values: np.ndarray, ctype: str, align: int = 16) -> str:
        op = self._current()
        ident = self._unique(f"td_op{op.index}_{_c_ident(name)}")
        values = np.ascontiguousarray(np.asarray(values)).reshape(-1)
        self.consts.append(ConstArray(ident, ctype, values, align))
        self.const_idents.add(ident)
        return ident

    def shared_const(self, name: str, values: np.ndarray, ctype: str, align: int = 16) -> str:
        """One program-wide constant array `td_NAME` (e.g. a lookup table several layers read), declared the
        first time an op asks for it; later calls with the same name return the same identifier."""
        ident = f"td_{_c_ident(name)}"
        if ident not in self.const_idents:
            values = np.ascontiguousarray(np.asarray(values)).reshape(-1)
            self.consts.append(ConstArray(ident, ctype, values, align))
            self.const_idents.add(ident)
        return ident

    def struct(self, name: str, ctype: str, fields: dict[str, object]) -> str:
        """Declare `static const ctype NAME = {.field = value, ...};` (kernel parameters kept in flash);
        returns `&NAME`.  Values are ints, floats (written exactly), C expressions as strings, or dicts
        (a nested struct's fields)."""
        op = self._current()
        ident = self._unique(f"td_op{op.index}_{_c_ident(name)}")
        self.structs.append(f"static const {ctype} {ident} = {_c_initializer(fields)};")
        self.const_idents.add(ident)
        return f"&{ident}"

    def scratch(self, op: Operator, nbytes: int, align: int = 16) -> str:
        name = f"s{len([s for s in self.scratch_list if s.op == op.index])}"
        self.scratch_list.append(Scratch(op=op.index, name=name, nbytes=int(nbytes), align=align))
        return f"((void *)(td_arena + TD_OFF_S{op.index}_{name}))"

    # -- memory relations
    def allow_inplace(self, op: Operator, src: Tensor, dst: Tensor) -> None:
        if not src.is_constant and not dst.is_constant and src.nbytes >= dst.nbytes:
            self.inplace.append((op.index, src.index, dst.index))

    def alias(self, op: Operator, src: Tensor, dst: Tensor) -> None:
        if src.nbytes != dst.nbytes:
            raise self.unsupported(op, f"alias of {src.nbytes} bytes as {dst.nbytes} bytes")
        if src.is_constant or dst.is_constant:
            raise self.unsupported(op, "alias of a constant tensor (should have been folded)")
        self.arena_tensors.update((src.index, dst.index))
        self.aliases.append((op.index, src.index, dst.index))

    # -- code
    def kernel(self, name: str) -> None:
        if not (kernels_dir() / f"{name}.h").exists() and not (kernels_dir() / f"{name}.c").exists():
            raise UserError(f"aot kernel '{name}' is missing from {kernels_dir()}",
                            hint="the checkout is incomplete; reinstall tinydeploy")
        if name not in self.kernels:
            self.kernels.append(name)
        if self.op is not None:
            self.op_kernels.setdefault(self.op.index, set()).add(name)

    def emit(self, code: str) -> None:
        self.ops[-1].lines.extend(code.rstrip("\n").split("\n"))

    def unsupported(self, op: Operator, why: str) -> UnsupportedOpError:
        return UnsupportedOpError(
            f"the aot runtime cannot run {op.describe(self.model)}: {why}; {advice_for(self.model, op)}")

    # -- helpers
    def _current(self) -> Operator:
        assert self.op is not None, "context used outside a lowering"
        return self.op

    def _unique(self, base: str) -> str:
        ident, n = base, 1
        while ident in self.const_idents:
            n += 1
            ident = f"{base}_{n}"
        return ident


_: type[LoweringContext] = _Context  # the context satisfies the contract (checked by type checkers)


def _c_ident(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


# --- C literals ----------------------------------------------------------------------------------------


def c_float(x: float) -> str:
    """An exact C float literal (hex float), so constants are bit-identical to the model's."""
    x = float(np.float32(x))
    if math.isnan(x):
        return "NAN"
    if math.isinf(x):
        return "INFINITY" if x > 0 else "(-INFINITY)"
    if x == 0.0:
        return "-0.0f" if math.copysign(1.0, x) < 0 else "0.0f"
    return f"{x.hex()}f"


def c_int(v: int, ctype: str = "int32_t") -> str:
    v = int(v)
    if ctype in ("int32_t", "int") and v == -(1 << 31):
        return "(-2147483647 - 1)"
    if ctype == "int64_t":
        if v == -(1 << 63):
            return "(-9223372036854775807LL - 1)"
        return f"{v}LL"
    if ctype == "uint32_t":
        return f"{v}u"
    return str(v)


def _c_initializer(fields: dict[str, object]) -> str:
    return "{" + ", ".join(f".{k} = {_c_initializer(v) if isinstance(v, dict) else _c_scalar(v)}"
                           for k, v in fields.items()) + "}"


def _c_scalar(v: object) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, (bool, np.bool_)):
        return "1" if v else "0"
    if isinstance(v, (float, np.floating)):
        return c_float(float(v))
    return c_int(int(v))  # type: ignore[arg-type]


def c_array_body(values: np.ndarray, ctype: str, per_line: int = 16) -> list[str]:
    """The lines of an array initializer."""
    flat = np.asarray(values).reshape(-1)
    if ctype == "float":
        items = [c_float(v) for v in flat.astype(np.float32).tolist()]
        per_line = 8
    elif ctype in ("int32_t", "int64_t"):
        items = [c_int(v, ctype) for v in flat.tolist()]
    else:
        items = [str(int(v)) for v in flat.tolist()]
    if not items:
        items = ["0"]  # C forbids empty initializers
    return [", ".join(items[i:i + per_line]) + "," for i in range(0, len(items), per_line)]


# --- generation ----------------------------------------------------------------------------------------


def generate(model: Model, target: TargetFeatures | None = None) -> AotProgram:
    """Lower, plan and render one model; raises UnsupportedOpError for anything the aot engine can't run."""
    target = target or TargetFeatures()
    _check_model(model)
    model, _ = _flatten_if(model)
    folded = fold_constants(model)
    fmodel = folded.model
    ctx = _Context(fmodel, target)

    for op in fmodel.operators:
        if op.index in folded.skipped:
            continue
        lower = None if op.is_custom else lookup(op.opcode)
        if lower is None:
            raise _unsupported_op(fmodel, op)
        ctx.op = op
        out_names = ", ".join(f"'{fmodel.tensors[t].name}'" for t in op.outputs if t >= 0)
        ctx.ops.append(OpCode(op.index, op.opcode, _c_comment(f"#{op.index} {op.opcode} -> {out_names}")))
        check_op_bounds(fmodel, op)  # the kernel's accesses lie within the op's tensors
        lower(op, ctx)
        if not ctx.ops[-1].lines:
            ctx.ops[-1].comment += " (no code: its output is its input's bytes)"
    ctx.op = None
    _drop_unreferenced_consts(ctx)

    for t in fmodel.inputs + fmodel.outputs:
        tensor = fmodel.tensors[t]
        if tensor.is_constant:
            raise UnsupportedOpError(
                f"the aot runtime cannot serve model input/output '{tensor.name}': it is a constant; {ADVICE}")
        ctx.arena_tensors.add(t)

    overlaps = raster_overlaps(fmodel, ctx.op_kernels)  # outputs over inputs: free, in every mode

    def plan_with(reads: dict[int, list[int]]) -> MemoryPlan:
        return plan_memory(fmodel, inplace=ctx.inplace, aliases=ctx.aliases, scratch=ctx.scratch_list,
                           skip_ops=folded.skipped, overlaps=overlaps, reads=reads)

    reads: dict[int, list[int]] = {}
    if target.memory_priority == "ram":  # residual skips recomputed where that lowers the arena
        reads = recompute.apply(ctx, folded.skipped, plan_with)
    plan = plan_with(reads)
    check_plan(plan)  # ... and every tensor and scratch buffer within the arena
    if plan.arena_bytes > MAX_ARENA_BYTES:
        raise UserError(f"{fmodel.path or 'model'}: the aot arena would need {plan.arena_bytes} bytes, more than "
                        f"the firmware's 32-bit offsets address; the model is far too large for a microcontroller")
    missing = ctx.arena_tensors - set(plan.offsets)
    if missing:  # a lowering touched a tensor the planner does not know: a bug, not a user error
        raise RuntimeError(f"aot codegen: tensors {sorted(missing)} have no arena offset")

    inputs = [_tensor_info(fmodel.tensors[t]) for t in fmodel.inputs]
    outputs = [_tensor_info(fmodel.tensors[t]) for t in fmodel.outputs]
    files = _render(fmodel, ctx, plan, folded, inputs, outputs)
    kernel_sources = [kernels_dir() / f"{k}.c" for k in ctx.kernels if (kernels_dir() / f"{k}.c").exists()]
    return AotProgram(
        model=fmodel,
        target=target,
        files=files,
        kernels=list(ctx.kernels),
        kernel_sources=kernel_sources + runtime_sources(),
        include_dirs=[kernels_dir(), firmware_dir() / "include", firmware_dir() / "aot"],
        arena_bytes=plan.arena_bytes,
        plan=plan,
        inputs=inputs,
        outputs=outputs,
        weights_bytes=sum(c.nbytes for c in ctx.consts),
        folded_ops=folded.folded,
        dead_ops=folded.dead,
        op_count=len(ctx.ops),
    )


def advice_for(model: Model, op: Operator) -> str:
    """The fix for an op the aot runtime refuses that works with what the user has: a re-conversion when the
    cause is a conversion choice (uint8 I/O, int16 activations, float16 weights, hybrid weights), else tflm."""
    tensors = [model.tensors[i] for i in (*op.inputs, *op.outputs) if i >= 0]
    dtypes = {t.dtype for t in tensors}
    if op.opcode in ("QUANTIZE", "DEQUANTIZE") and "uint8" in dtypes:
        return ("re-convert with --io-dtype int8 (uint8 I/O needs a conversion op aot lacks), or use "
                f"--runtime tflm")
    if "float16" in dtypes:
        return "convert with --mode int8 --rep-data DATA (or --mode float32): float16 weights"
    if "int16" in dtypes and op.opcode not in ("QUANTIZE", "DEQUANTIZE"):
        return "re-convert with --mode int8 (int16x8 activations), or use --runtime tflm"
    if "float32" in dtypes and any(t.is_constant and t.dtype == "int8" for t in tensors):
        return "re-convert with --mode int8 --rep-data DATA (full-integer, not dynamic-range)"
    return ADVICE


def lowering_problems(model: Model, target: TargetFeatures | None = None) -> tuple[str | None, dict[int, str]]:
    """A dry run of the aot lowering, as render does it: (model-level problem, {op index: why it cannot run}).
    Ops folded away at build time run (they cost nothing).  What this says runs is what render generates."""
    try:
        _check_model(model)
    except (UnsupportedOpError, UserError) as err:
        return str(err), {}
    model, origin = _flatten_if(model)  # problems of spliced IF branch ops are the IF's
    try:
        folded = fold_constants(model)
    except (UnsupportedOpError, UserError) as err:
        return str(err), {}
    fmodel = folded.model
    ctx = _Context(fmodel, target or TargetFeatures())
    problems: dict[int, str] = {}
    for op in fmodel.operators:
        if op.index in folded.skipped:
            continue
        lower = None if op.is_custom else lookup(op.opcode)
        if lower is None:
            problems.setdefault(origin[op.index], str(_unsupported_op(fmodel, op)))
            continue
        ctx.op = op
        ctx.ops.append(OpCode(op.index, op.opcode, ""))
        try:
            check_op_bounds(fmodel, op)
            lower(op, ctx)
        except (UnsupportedOpError, UserError) as err:
            problems.setdefault(origin[op.index], str(err))
    return None, problems


def _drop_unreferenced_consts(ctx: _Context) -> None:
    """Forget the constant arrays no statement or parameter struct names (e.g. the multipliers of a layer
    whose requantization table replaced them): they would be dead data, and counting them as weights would
    understate the code size."""
    used = set(re.findall(r"\btd_\w+", "\n".join([*ctx.structs, *(line for op in ctx.ops for line in op.lines)])))
    ctx.consts = [c for c in ctx.consts if c.ident in used]


def generate_from_path(model_path: Path, target: TargetFeatures | None = None) -> AotProgram:
    from tinydeploy.model.graph import load_model

    return generate(load_model(model_path), target)


def _flatten_if(model: Model) -> tuple[Model, list[int]]:
    """IF branches spliced inline as if / else (aot/ops/control_flow.py); imported here, not at the top, as
    the op modules import this one."""
    from tinydeploy.aot.ops.control_flow import flatten_if

    return flatten_if(model)


def _check_model(model: Model) -> None:
    dynamic = dynamic_dims_error(model)
    if dynamic:  # a -1 batch alone runs as batch 1 (tinydeploy.model.dynamic)
        raise UserError(f"{model.path or 'model'}: {dynamic}; {DYNAMIC_FIX}")
    if model.num_subgraphs > 1:  # only CALL_ONCE variable initializers besides the main subgraph
        from tinydeploy.aot.ops.variables import subgraphs_problem

        problem = subgraphs_problem(model)
        if problem:
            raise UnsupportedOpError(f"{model.path or 'model'}: {problem}; {ADVICE}")
    for t in model.inputs + model.outputs:
        tensor = model.tensors[t]
        if tensor.dtype not in C_TYPES:
            raise UnsupportedOpError(
                f"model input/output '{tensor.name}' has type {tensor.dtype}, which the aot runtime does not "
                f"support; {ADVICE}")


def _unsupported_op(model: Model, op: Operator) -> UnsupportedOpError:
    return UnsupportedOpError(
        f"the aot runtime has no kernel for {op.describe(model)}; {advice_for(model, op)}")


def _tensor_info(t: Tensor) -> TensorInfo:
    scale = float(t.quant.scale[0]) if t.quant is not None and t.quant.scale.size else 0.0
    zp = int(t.quant.zero_point[0]) if t.quant is not None and t.quant.zero_point.size else 0
    return TensorInfo(t.index, t.name, tuple(t.shape), t.dtype, scale, zp, t.nbytes)


def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir() / "aot")),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _c_comment(text: str) -> str:
    return text.replace("*/", "* /")


def _layers(model: Model, ctx: _Context, plan: MemoryPlan) -> list[dict[str, object]]:
    """The layers -DTD_LAYERS firmware reports (per-layer profiling, layer outputs): each op that runs, in
    order, with its first output tensor in the arena."""
    layers: list[dict[str, object]] = []
    if any(op.opcode.startswith("TD_") for op in model.operators):
        return layers  # IF / WHILE spliced inline: its ops and tensors are not the file's (aot/ops/control_flow.py)
    for op in ctx.ops:
        outs = [t for t in model.operators[op.index].outputs if t >= 0 and t in plan.offsets]
        if outs:
            t = model.tensors[outs[0]]
            layers.append({"k": len(layers), "op": op.index, "tensor": t.index, "bytes": t.nbytes,
                           "offset": f"TD_OFF_T{t.index}",
                           "comment": _c_comment(f"#{op.index} {op.opcode} -> '{t.name}'")})
    return layers


def _render(model: Model, ctx: _Context, plan: MemoryPlan, folded: FoldResult, inputs: list[TensorInfo],
            outputs: list[TensorInfo]) -> dict[str, str]:
    layers = _layers(model, ctx, plan)
    used = sorted(ctx.arena_tensors | set(model.inputs) | set(model.outputs) | {int(l["tensor"]) for l in layers})
    offsets = [
        {"name": f"TD_OFF_T{t}", "offset": plan.offsets[t],
         "comment": _c_comment(f"'{model.tensors[t].name}' {model.tensors[t].dtype}{list(model.tensors[t].shape)} "
                               f"{model.tensors[t].nbytes} B")}
        for t in used
    ]
    offsets += [
        {"name": f"TD_OFF_S{op}_{name}", "offset": off, "comment": f"scratch of op #{op}"}
        for (op, name), off in sorted(plan.scratch_offsets.items())
    ]
    consts = [
        {"ident": c.ident, "ctype": c.ctype, "count": max(1, c.values.size), "align": c.align,
         "comment": _c_comment(c.comment), "body": c_array_body(c.values, c.ctype)}
        for c in ctx.consts
    ]

    def io(infos: list[TensorInfo]) -> list[dict[str, object]]:
        return [
            {"name": _c_comment(i.name).replace("\\", "/").replace('"', "'"), "dtype": DTYPE_CODES[i.dtype],
             "ndims": len(i.shape), "dims": ", ".join(str(d) for d in (list(i.shape) or [1])),
             "scale": c_float(i.scale), "zero_point": i.zero_point, "bytes": i.nbytes,
             "offset": f"TD_OFF_T{i.index}"}
            for i in infos
        ]

    sha = bytes.fromhex(model.sha256)
    values = {
        "model_name": (model.path.name if model.path else "model"),
        "sha256": model.sha256,
        "sha256_bytes": ", ".join(f"0x{b:02x}" for b in sha),
        "arena_bytes": plan.arena_bytes,
        "kernels": ctx.kernels,
        "offsets": offsets,
        "consts": consts,
        "structs": ctx.structs,
        "ops": ctx.ops,
        "inputs": io(inputs),
        "outputs": io(outputs),
        "folded": [f"#{i} {model.operators[i].opcode}" for i in folded.folded],
        "dead": [f"#{i} {model.operators[i].opcode}" for i in folded.dead],
        "plan_table": _c_comment(plan.table()).split("\n"),
        "weights_bytes": sum(c.nbytes for c in ctx.consts),
        "layers": layers,
        "layer_of": {layer["op"]: layer for layer in layers},
    }
    env = _env()
    return {name: env.get_template(f"{name}.j2").render(**values) for name in ("model.h", "model.c")}
