"""IF and WHILE: their subgraphs spliced into the main op sequence, as if / else and for (;;) in model_invoke.

TFLM's IF (if.cc) reads its bool condition (one element), copies its other inputs into the chosen branch
subgraph's inputs, runs that subgraph and copies the subgraph's outputs into its own outputs.  The aot
generator does the same inline: before lowering, `flatten_if` replaces every IF of the main subgraph with

    TD_IF(cond)                         if (cond[0]) {
      TD_COPY  IF input k -> then input k
      ... the then-subgraph's ops ...   (its tensors appended to the model's, indices shifted)
      TD_COPY  then output k -> IF output k
    TD_ELSE                             } else {
      ... the same for the else subgraph ...
    TD_END_IF                           }

TFLM's WHILE (while.cc) copies its inputs into its outputs (the loop variables) and the cond subgraph's
inputs, runs cond, and while cond's bool output is true: outputs -> body inputs, body, body outputs ->
outputs -> cond inputs, cond.  Spliced:

    TD_COPY  WHILE input k -> WHILE output k
    TD_LOOP                             for (;;) {
      TD_COPY  output k -> cond input k
      ... the cond subgraph's ops ...
      TD_BREAK_UNLESS(cond output 0)      if (!c[0]) break;
      TD_COPY  output k -> body input k
      ... the body subgraph's ops ...
      TD_COPY  body output k -> output k
    TD_END_LOOP                         }

(nested IF / WHILE inside a subgraph are spliced the same way).  Every value is then computed by the same
kernels as outside control flow, so results are TFLM's.  The memory planner sees the spliced ops in
sequence: tensors of the two branches may share bytes (only one runs), an IF's inputs stay live until the
else branch's copies and its outputs from the then branch's copies to their last reader; a WHILE's outputs
(the loop variables) are written before the loop and by its last op, so they stay live over the whole loop,
while cond and body temporaries live inside one iteration.  The copies, brackets and everything feeding them
are kept by the dead-op pass.  Subgraphs holding CALL_ONCE or resource variables are refused
(`if_problem`).
"""

from __future__ import annotations

import dataclasses

from tinydeploy.aot.lowering import LoweringContext, lowering
from tinydeploy.errors import UserError
from tinydeploy.model.graph import Model, Operator, parse_subgraph

NOT_IN_BRANCHES = ("CALL_ONCE", "VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE")
FLOW_OPS = ("IF", "WHILE")
MAX_DEPTH = 8


def _branches(op: Operator) -> tuple[int, int]:
    """IF: (then, else); WHILE: (cond, body)."""
    if op.opcode == "WHILE":
        return int(op.options.get("cond_subgraph_index", -1)), int(op.options.get("body_subgraph_index", -1))
    return int(op.options.get("then_subgraph_index", -1)), int(op.options.get("else_subgraph_index", -1))


def if_branch_indices(model: Model) -> set[int]:
    """Every subgraph reachable from the main subgraph through IF / WHILE ops (nested ones included)."""
    found: set[int] = set()
    pending = [model]
    while pending:
        sub = pending.pop()
        for op in sub.operators:
            if op.opcode not in FLOW_OPS:
                continue
            for index in _branches(op):
                if 1 <= index < model.num_subgraphs and index not in found:
                    found.add(index)
                    try:
                        pending.append(parse_subgraph(model, index))
                    except UserError:
                        pass  # if_problem names it
    return found


def if_problem(model: Model) -> str | None:
    """Why the IF / WHILE ops of this model cannot be spliced, or None."""
    for index in sorted(if_branch_indices(model)):
        try:
            sub = parse_subgraph(model, index)
        except UserError as err:
            return str(err)
        for op in sub.operators:
            if op.opcode in NOT_IN_BRANCHES:
                return (f"its IF / WHILE subgraph {index} runs {op.opcode}; the aot runtime splices control-flow "
                        "subgraphs without variables only")
            if any(not -1 <= t < len(sub.tensors) for t in [*op.inputs, *op.outputs]):
                return f"its IF / WHILE subgraph {index} names a tensor that does not exist (the file is corrupt)"
    for sub in [model] + [parse_subgraph(model, i) for i in sorted(if_branch_indices(model))]:
        for op in sub.operators:
            if op.opcode not in FLOW_OPS:
                continue
            for k, index in enumerate(_branches(op)):
                if not 1 <= index < model.num_subgraphs:
                    return f"a{'n' if op.opcode == 'IF' else ''} {op.opcode} names subgraph {index}, which does not exist"
                branch = parse_subgraph(model, index)
                n_in = len(op.inputs) - (1 if op.opcode == "IF" else 0)
                n_out = 1 if (op.opcode, k) == ("WHILE", 0) else len(op.outputs)
                if len(branch.inputs) != n_in or len(branch.outputs) < n_out or (
                        op.opcode == "WHILE" and k == 1 and len(branch.outputs) != n_out) or (
                        op.opcode == "WHILE" and len(op.inputs) != len(op.outputs)):
                    return (f"a{'n' if op.opcode == 'IF' else ''} {op.opcode} passes {n_in} inputs / takes "
                            f"{len(op.outputs)} outputs, but its subgraph {index} has {len(branch.inputs)} / "
                            f"{len(branch.outputs)}")
    return None


def flatten_if(model: Model) -> tuple[Model, list[int]]:
    """The model with every IF / WHILE spliced inline (see the module docstring), and for each new op the
    index of the main-subgraph op it comes from (the IF / WHILE itself for spliced ops).  Models without
    control flow come back as they are.  Call after `if_problem` returned None."""
    if not any(op.opcode in FLOW_OPS for op in model.operators):
        return model, [op.index for op in model.operators]
    tensors = list(model.tensors)
    ops: list[Operator] = []
    origin: list[int] = []

    def add(opcode: str, inputs: list[int], outputs: list[int], source: Operator, at: int) -> None:
        ops.append(dataclasses.replace(source, index=len(ops), opcode=opcode, inputs=inputs, outputs=outputs,
                                       options={} if opcode.startswith("TD_") else source.options))
        origin.append(at)

    def splice(sub: Model, shift: int, at: int | None, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise UserError(f"{model.path or 'model'}: IF branches nested more than {MAX_DEPTH} deep")
        remap = (lambda t: t + shift if t >= 0 else t)
        for op in sub.operators:
            where = op.index if at is None else at
            if op.opcode == "WHILE":
                splice_while(op, remap, where, depth)
                continue
            if op.opcode != "IF":
                add(op.opcode, [remap(t) for t in op.inputs], [remap(t) for t in op.outputs], op, where)
                continue
            args, outs = [remap(t) for t in op.inputs[1:]], [remap(t) for t in op.outputs]
            add("TD_IF", [remap(op.inputs[0])], [], op, where)
            for k, index in enumerate(_branches(op)):
                branch = parse_subgraph(model, index)
                base = len(tensors)
                tensors.extend(dataclasses.replace(t, index=base + t.index, name=f"{t.name}") for t in branch.tensors)
                for a, t in zip(args, branch.inputs):
                    add("TD_COPY", [a], [base + t], op, where)
                splice(branch, base, where, depth + 1)
                for t, o in zip(branch.outputs, outs):
                    add("TD_COPY", [base + t], [o], op, where)
                if k == 0:
                    add("TD_ELSE", [], [], op, where)
            add("TD_END_IF", [], [], op, where)

    def append_subgraph(index: int) -> tuple[Model, int]:
        sub = parse_subgraph(model, index)
        base = len(tensors)
        tensors.extend(dataclasses.replace(t, index=base + t.index) for t in sub.tensors)
        return sub, base

    def splice_while(op: Operator, remap, where: int, depth: int) -> None:  # type: ignore[no-untyped-def]
        args, outs = [remap(t) for t in op.inputs], [remap(t) for t in op.outputs]
        for a, o in zip(args, outs):
            add("TD_COPY", [a], [o], op, where)
        add("TD_LOOP", [], [], op, where)
        cond_index, body_index = _branches(op)
        cond, base = append_subgraph(cond_index)
        for o, t in zip(outs, cond.inputs):
            add("TD_COPY", [o], [base + t], op, where)
        splice(cond, base, where, depth + 1)
        add("TD_BREAK_UNLESS", [base + cond.outputs[0]], [], op, where)
        body, base = append_subgraph(body_index)
        for o, t in zip(outs, body.inputs):
            add("TD_COPY", [o], [base + t], op, where)
        splice(body, base, where, depth + 1)
        for t, o in zip(body.outputs, outs):
            add("TD_COPY", [base + t], [o], op, where)
        add("TD_END_LOOP", [], [], op, where)

    splice(model, 0, None, 0)
    return dataclasses.replace(model, tensors=tensors, operators=ops), origin


# --- the pseudo-ops' lowerings -------------------------------------------------------------------------


@lowering("TD_IF")
def lower_if(op: Operator, ctx: LoweringContext) -> None:
    cond = ctx.input(op, 0)
    if cond.dtype != "bool" or cond.size != 1:
        raise ctx.unsupported(op, f"the IF condition is {cond.dtype}{list(cond.shape)}; TFLM takes one bool")
    ctx.emit(f"if ({ctx.ptr(cond)}[0]) {{ /* IF: then branch */")


@lowering("TD_ELSE")
def lower_else(op: Operator, ctx: LoweringContext) -> None:
    ctx.emit("} else { /* IF: else branch */")


@lowering("TD_END_IF")
def lower_end_if(op: Operator, ctx: LoweringContext) -> None:
    ctx.emit("} /* IF: end */")


@lowering("TD_LOOP")
def lower_loop(op: Operator, ctx: LoweringContext) -> None:
    ctx.emit("for (;;) { /* WHILE */")


@lowering("TD_BREAK_UNLESS")
def lower_break_unless(op: Operator, ctx: LoweringContext) -> None:
    cond = ctx.input(op, 0)
    if cond.dtype != "bool" or cond.size < 1:
        raise ctx.unsupported(op, f"the WHILE condition is {cond.dtype}{list(cond.shape)}; TFLM takes a bool")
    ctx.emit(f"if (!{ctx.ptr(cond)}[0]) break; /* WHILE: cond false */")


@lowering("TD_END_LOOP")
def lower_end_loop(op: Operator, ctx: LoweringContext) -> None:
    ctx.emit("} /* WHILE: end */")


@lowering("TD_COPY")
def lower_copy(op: Operator, ctx: LoweringContext) -> None:
    src, dst = ctx.input(op, 0), ctx.output(op, 0)
    if src.nbytes != dst.nbytes or src.dtype != dst.dtype:
        raise ctx.unsupported(op, f"IF copies {src.dtype}{list(src.shape)} into {dst.dtype}{list(dst.shape)}; "
                                  "TFLM requires one type and size")
    ctx.kernel("copy")
    ctx.emit(f"td_copy_bytes({ctx.ptr(dst, 'uint8_t')}, {ctx.ptr(src, 'uint8_t')}, {src.nbytes}u);")
