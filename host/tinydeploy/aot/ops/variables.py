"""Resource variables (VAR_HANDLE, READ_VARIABLE, ASSIGN_VARIABLE) and CALL_ONCE, as TFLite Micro runs them.

A tf.Variable in a tf.Module / Keras model converts to: CALL_ONCE(init subgraph) first in the main subgraph;
VAR_HANDLE(container, shared_name) -> a resource tensor; READ_VARIABLE(resource) -> value;
ASSIGN_VARIABLE(resource, value).  The init subgraph is VAR_HANDLE + ASSIGN_VARIABLE of the initial values
(constants).  TFLM keys a variable by (container, shared_name) across subgraphs, allocates its buffer
zeroed, runs the init subgraph on the first invoke only (CALL_ONCE's has_run flag) and copies values in
and out with memcpy.  The variable's size is the size of every value read from or assigned to it (TFLM
fails an assign of another size); all of them must agree.

aot: each variable is a zero-initialized static buffer inside model_invoke (persistent across invokes, not
in the arena), declared by the first CALL_ONCE / VAR_HANDLE of the main subgraph; CALL_ONCE copies the init
subgraph's constants into them behind a static flag on the first invoke; READ/ASSIGN are byte copies.  State
so persists across INVOKEs from boot, as on a device running TFLM, which never calls Reset() between
invokes.  (TFLM's Reset() zeroes the variables and does not rerun the init subgraph; the tflm host
reference therefore skips it between the samples of a model that holds resource variables.)

Only init subgraphs of VAR_HANDLE / ASSIGN_VARIABLE from constants run; other subgraphs (IF / WHILE bodies,
computed initial values) are refused with the model-level message `subgraphs_problem` gives.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinydeploy.aot.lowering import LoweringContext, lowering
from tinydeploy.errors import UserError
from tinydeploy.model.graph import Model, Operator, parse_subgraph

VARIABLE_OPS = ("CALL_ONCE", "VAR_HANDLE")  # the ops that may declare the storage (never dropped as dead)
INIT_OPS = ("VAR_HANDLE", "ASSIGN_VARIABLE")
C_TYPES = {"int8": "int8_t", "uint8": "uint8_t", "int16": "int16_t", "int32": "int32_t", "int64": "int64_t",
           "float32": "float", "bool": "uint8_t"}

Key = tuple[str, str]  # (container, shared_name): TFLM's identity of a resource variable


@dataclass
class Variable:
    key: Key
    ident: str  # C identifier of its storage
    nbytes: int
    dtype: str
    shape: tuple[int, ...]


def _key(op: Operator) -> Key:
    return str(op.options.get("container", "")), str(op.options.get("shared_name", ""))


def _label(key: Key) -> str:
    return f"{key[0]}/{key[1]}" if key[0] else key[1]


def init_subgraph_indices(model: Model) -> list[int]:
    """The subgraphs the main subgraph's CALL_ONCE ops run, in op order."""
    out = []
    for op in model.operators:
        if op.opcode == "CALL_ONCE":
            index = int(op.options.get("init_subgraph_index", -1))
            if index not in out:
                out.append(index)
    return out


def _init_problem(sub: Model, index: int) -> str | None:
    for op in sub.operators:
        if op.opcode not in INIT_OPS:
            return (f"its CALL_ONCE init subgraph {index} runs {op.opcode}; the aot runtime runs init subgraphs "
                    "of VAR_HANDLE and ASSIGN_VARIABLE with constant initial values only")
        if any(not 0 <= t < len(sub.tensors) for t in [*op.inputs, *op.outputs]):
            return f"its init subgraph {index} names a tensor that does not exist (the file is corrupt)"
        if op.opcode == "ASSIGN_VARIABLE" and (len(op.inputs) != 2 or not sub.tensors[op.inputs[1]].is_constant):
            return (f"its init subgraph {index} assigns a computed value; the aot runtime initializes variables "
                    "from constants only")
    return None


def subgraphs_problem(model: Model) -> str | None:
    """Why the aot runtime cannot run this model's extra subgraphs, or None (they are all CALL_ONCE init
    subgraphs of constant initial values)."""
    from tinydeploy.aot.ops.control_flow import if_branch_indices, if_problem

    inits = init_subgraph_indices(model)
    branches = if_branch_indices(model)
    others = [i for i in range(1, model.num_subgraphs) if i not in inits and i not in branches]
    if others or any(not 1 <= i < model.num_subgraphs for i in inits):
        return (f"has {model.num_subgraphs} subgraphs, of which {others or inits} no CALL_ONCE, IF or WHILE "
                "runs (or that do not exist); the aot runtime runs one main subgraph plus CALL_ONCE variable "
                "initializers and IF / WHILE subgraphs")
    problem = if_problem(model)
    if problem:
        return problem
    for index in inits:
        try:
            problem = _init_problem(parse_subgraph(model, index), index)
        except UserError as err:
            return str(err)
        if problem:
            return problem
    return None


def _value_tensors(model: Model) -> list[tuple[Key, object]]:
    """(variable key, tensor) for every value read from or assigned to a variable, in every subgraph."""
    found = []
    subs = [model] + [parse_subgraph(model, i) for i in init_subgraph_indices(model) if 1 <= i < model.num_subgraphs]
    for sub in subs:
        handles = {op.outputs[0]: _key(op) for op in sub.operators if op.opcode == "VAR_HANDLE" and op.outputs}
        for op in sub.operators:
            if op.opcode == "READ_VARIABLE" and op.inputs and op.outputs and op.inputs[0] in handles:
                found.append((handles[op.inputs[0]], sub.tensors[op.outputs[0]]))
            elif op.opcode == "ASSIGN_VARIABLE" and len(op.inputs) == 2 and op.inputs[0] in handles:
                found.append((handles[op.inputs[0]], sub.tensors[op.inputs[1]]))
    return found


def model_variables(op: Operator, ctx: LoweringContext) -> dict[Key, Variable]:
    """Every resource variable of the model, in order of first appearance, with its size."""
    keys: list[Key] = [_key(o) for o in ctx.model.operators if o.opcode == "VAR_HANDLE"]
    values = _value_tensors(ctx.model)
    keys += [k for k, _ in values]
    variables: dict[Key, Variable] = {}
    for key in keys:
        if key in variables:
            continue
        uses = [t for k, t in values if k == key]
        if not uses:
            raise ctx.unsupported(op, f"variable '{_label(key)}' is never read or assigned, so its size is unknown")
        sizes = {(t.nbytes, t.dtype) for t in uses}  # type: ignore[attr-defined]
        if len(sizes) != 1:
            raise ctx.unsupported(op, f"variable '{_label(key)}' is used as {sorted(sizes)} (bytes, type): TFLM "
                                      "fails an assign of another size; re-convert the model")
        nbytes, dtype = sizes.pop()
        variables[key] = Variable(key, f"td_var{len(variables)}", nbytes, dtype, tuple(uses[0].shape))  # type: ignore
    return variables


def _declare_storage(op: Operator, ctx: LoweringContext) -> None:
    """The first CALL_ONCE / VAR_HANDLE of the main subgraph declares every variable's storage (statics at
    model_invoke's top level: in scope for every later op, kept across invokes, zeroed at start-up)."""
    first = next(o for o in ctx.model.operators if o.opcode in VARIABLE_OPS)
    if first.index != op.index:
        return
    ctx.kernel("copy")
    for v in model_variables(op, ctx).values():
        label = _label(v.key).replace("*/", "* /").replace("\\", "/")
        ctx.emit(f"static uint8_t {v.ident}[{max(1, v.nbytes)}] TD_ALIGNED(16); "
                 f"/* variable '{label}' {v.dtype}{list(v.shape)}, persistent */")


def _variable_of(op: Operator, ctx: LoweringContext) -> Variable:
    handle = op.inputs[0] if op.inputs else -1
    producer = next((o for o in ctx.model.operators if handle in o.outputs), None)
    if producer is None or producer.opcode != "VAR_HANDLE":
        raise ctx.unsupported(op, "its resource input does not come from a VAR_HANDLE")
    return model_variables(op, ctx)[_key(producer)]


@lowering("VAR_HANDLE")
def lower_var_handle(op: Operator, ctx: LoweringContext) -> None:
    _declare_storage(op, ctx)
    key = _label(_key(op)).replace("*/", "* /")
    ctx.emit(f"/* handle of variable '{key}': resolved at generation time, no code */")


@lowering("CALL_ONCE")
def lower_call_once(op: Operator, ctx: LoweringContext) -> None:
    index = int(op.options.get("init_subgraph_index", -1))
    _declare_storage(op, ctx)
    sub = parse_subgraph(ctx.model, index)
    problem = _init_problem(sub, index)
    if problem:
        raise ctx.unsupported(op, problem)
    variables = model_variables(op, ctx)
    handles = {o.outputs[0]: _key(o) for o in sub.operators if o.opcode == "VAR_HANDLE" and o.outputs}
    lines = []
    for o in sub.operators:
        if o.opcode != "ASSIGN_VARIABLE":
            continue
        key, value = handles.get(o.inputs[0]), sub.tensors[o.inputs[1]]
        if key is None or key not in variables:
            raise ctx.unsupported(op, f"init subgraph {index} assigns to a resource that is no VAR_HANDLE")
        var = variables[key]
        data = np.ascontiguousarray(value.data).reshape(-1).astype(value.numpy_dtype)
        ident = ctx.const(f"init_{var.ident}", data, C_TYPES.get(value.dtype, "uint8_t"))
        lines.append(f"  td_copy_bytes({var.ident}, {ident}, {var.nbytes}u);")
    flag = f"td_once_op{op.index}"
    ctx.kernel("copy")
    ctx.emit(f"static uint8_t {flag}; /* CALL_ONCE: the init subgraph {index} runs on the first invoke only */")
    ctx.emit("\n".join([f"if (!{flag}) {{", *lines, f"  {flag} = 1;", "}"]))


@lowering("READ_VARIABLE")
def lower_read_variable(op: Operator, ctx: LoweringContext) -> None:
    var, y = _variable_of(op, ctx), ctx.output(op, 0)
    if y.nbytes != var.nbytes:
        raise ctx.unsupported(op, f"reads {y.nbytes} bytes from variable '{_label(var.key)}' of {var.nbytes}")
    ctx.kernel("copy")
    ctx.emit(f"td_copy_bytes({ctx.ptr(y, 'uint8_t')}, {var.ident}, {var.nbytes}u);")


@lowering("ASSIGN_VARIABLE")
def lower_assign_variable(op: Operator, ctx: LoweringContext) -> None:
    var, x = _variable_of(op, ctx), ctx.input(op, 1)
    if x.nbytes != var.nbytes:
        raise ctx.unsupported(op, f"assigns {x.nbytes} bytes to variable '{_label(var.key)}' of {var.nbytes}")
    ctx.kernel("copy")
    ctx.emit(f"td_copy_bytes({var.ident}, {ctx.ptr(x, 'uint8_t')}, {var.nbytes}u);")
