"""Residual skips recomputed instead of kept: RAM for instructions (--memory-priority ram).

In a residual block  S = CONV(X);  ... B(S) ... ;  OUT = ADD(S, Y)  the skip S stays live from its conv to
the ADD, beside the block's own activations: on ResNet-8's first stage that is 16 KB of a 32 KB peak, and
no overlap can help (S is read again later).  When X is smaller than S, keeping X instead and recomputing S
inside the ADD, a few output rows at a time into a small scratch band, lowers the peak:

    for each band of rows r:  band = CONV(X)[rows r..]  (the reference kernel on the band's geometry)
                              OUT[rows r..] = ADD(band, Y[rows r..])   (in place over Y)

The convolution runs the kernel its own lowering picks (aot/bands.py band_call: the DSP GEMM, the Helium
kernel), on a copy of its descriptor per band; td_conv2d_s8_opt or the reference kernel where the lowering
picks those.  All take the geometry at run time.  The band's geometry is the layer's own with the input
starting at the band's first needed row: in_h shrinks to the rows left, the top padding to what remains of
it above the band, out_h to the band's rows;
every output value is computed from exactly the same inputs and the same per-channel requantization, and
the ADD is the same arithmetic (add.h's row form), so the result is bit-exact with the unfused graph.
The extra cost is one more pass of that convolution (reported by bench/aot_speed.py as instructions).

The generator applies it only when it lowers the arena (planned both ways).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

from tinydeploy.model.graph import Model
from tinydeploy.plan.memory import Access

BAND_BYTES = 1024  # scratch for the recomputed rows: at least one row, else about this many bytes


@dataclass(frozen=True)
class SkipRecompute:
    conv: int  # op index of S = CONV_2D(X)
    add: int  # op index of OUT = ADD(S, Y)
    skip: int  # S
    source: int  # X
    other: int  # Y
    skip_first: bool  # S is the ADD's first operand


def candidates(model: Model, skipped: set[int] | frozenset[int]) -> list[SkipRecompute]:
    """Residual ADDs whose skip comes straight from an int8 CONV_2D of a smaller input."""
    consumers, producer = model.consumers(skipped), model.producers(skipped)
    found = []
    for op in model.operators:
        if op.index in skipped or op.opcode != "ADD" or len(op.inputs) != 2 or len(op.outputs) != 1:
            continue
        out = model.tensors[op.outputs[0]]
        for k in (0, 1):
            s, y = op.inputs[k], op.inputs[1 - k]
            conv = producer.get(s)
            if conv is None or conv.opcode != "CONV_2D" or s == y or s in model.outputs:
                continue
            x = conv.inputs[0]
            st, xt, yt = model.tensors[s], model.tensors[x], model.tensors[y]
            if xt.is_constant or yt.is_constant or x in model.outputs:
                continue
            if not (st.dtype == xt.dtype == yt.dtype == out.dtype == "int8"):
                continue
            if tuple(st.shape) != tuple(out.shape) or tuple(yt.shape) != tuple(out.shape) or len(st.shape) != 4:
                continue
            if st.shape[0] != 1 or xt.nbytes >= st.nbytes or sorted(consumers.get(s, [])) == [op.index]:
                continue
            found.append(SkipRecompute(conv.index, op.index, s, x, y, k == 0))
            break
    return found


def emit_recompute(ctx, cand: SkipRecompute) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    """Replace the ADD's code in ctx with the band loop; returns (scratch bytes, C code).  Raises
    UnsupportedOpError / ValueError when the layer does not fit the scheme (then the ADD stays as it was)."""
    from tinydeploy.aot.ops.conv2d import conv_geometry
    from tinydeploy.aot.ops.elementwise import add_row_fast_ok, add_s8_params, check_quantized, int8_range

    model = ctx.model
    conv, add = model.operators[cand.conv], model.operators[cand.add]
    x, w, s = model.tensors[cand.source], model.tensors[conv.inputs[1]], model.tensors[cand.skip]
    y, out = model.tensors[cand.other], model.tensors[add.outputs[0]]
    if not w.is_constant or len(w.shape) != 4 or w.shape[3] != x.shape[3]:
        raise ValueError("filter")
    geo = conv_geometry(conv, ctx, x, w, s, (w.shape[1], w.shape[2]))
    if geo["batches"] != 1:
        raise ValueError("batch")
    check_quantized(add, ctx, s, y, out)
    a, b = (s, y) if cand.skip_first else (y, s)
    params = add_s8_params(a, b, out)
    if not add_row_fast_ok(params):
        raise ValueError("add")
    params["act_min"], params["act_max"] = int8_range(add, ctx, out)
    row = geo["out_w"] * geo["out_c"]
    rows = max(1, min(geo["out_h"], BAND_BYTES // row))
    in_row = geo["in_w"] * geo["in_c"]
    add_fields = ", ".join(f".{k} = {v}" for k, v in params.items())
    band = ctx.scratch(add, rows * row)
    conv_code = _conv_code(ctx, conv, geo, band, cand.skip)
    ctx.kernel("add")
    operands = ("band, 1, other + r * ROW, 1" if cand.skip_first else "other + r * ROW, 1, band, 1")
    code = f"""{{ /* skip '{_c(s.name)}' recomputed from '{_c(x.name)}' by op #{conv.index}, {rows} rows at a time */
  enum {{ ROW = {row}, IN_ROW = {in_row}, ROWS = {rows} }};
  static const td_add_s8_params p = {{{add_fields}}};
  int8_t *const band = (int8_t *){band};
  const int8_t *const x = {ctx.ptr(x)};
  const int8_t *const other = {ctx.ptr(y)};
  int8_t *const out = {ctx.ptr(out)};
  for (int32_t r = 0; r < {geo['out_h']}; r += ROWS) {{
    const int32_t top = r * {geo['stride_h']} - {geo['pad_h']};
    const int32_t start = top > 0 ? top : 0;
    const int32_t n = {geo['out_h']} - r < ROWS ? {geo['out_h']} - r : ROWS;
    {conv_code}
    td_add_s8_row({operands}, out + r * ROW, n * ROW, &p);
  }}
}}"""
    return rows * row, code


def _conv_code(ctx, conv, geo: dict[str, int], band: str, skip: int) -> str:  # type: ignore[no-untyped-def]
    """The band's rows [r, r + n) of the skip, into the band: the layer's own kernel on the band's geometry."""
    from tinydeploy.aot.bands import band_call
    from tinydeploy.aot.ops.conv2d import bias_ptr, folded_bias, int8_requant

    in_h, pad_h = f"{geo['in_h']} - start", "top < 0 ? -top : 0"
    fast = band_call(ctx, conv, {skip: band}) if ctx.target.optimized else None
    if fast is not None:
        return fast.code("x + start * IN_ROW", "band", in_h, "n", pad_h)
    x, w, s = (ctx.model.tensors[t] for t in (conv.inputs[0], conv.inputs[1], skip))
    mult, shift, q = int8_requant(conv, ctx, x, w, s, geo["out_c"])
    base = ctx.struct("skip_conv", "td_conv2d_s8_params", {**geo, **q})
    args = f"x + start * IN_ROW, {ctx.ptr(w)}, {bias_ptr(conv, ctx, 2, 'int32_t')}"
    folded = folded_bias(conv, ctx, w, q["input_offset"], 0) if ctx.target.optimized else None
    if folded is None:
        ctx.kernel("conv2d_s8")
        call = f"td_conv2d_s8(&g, {args}, {mult}, {shift}, band);"
    else:  # the optimized direct kernel takes the same geometry (bias at the borders, folded inside)
        ctx.kernel("conv2d_s8_opt")
        folded_c = ctx.const("skip_folded_bias", folded, "int32_t")
        call = f"td_conv2d_s8_opt(&g, {args}, {folded_c}, {mult}, {shift}, band);"
    return f"{{ td_conv2d_s8_params g = *{base}; g.in_h = {in_h}; g.pad_h = {pad_h}; g.out_h = n; {call} }}"


def _c(name: str) -> str:
    return name.replace("*/", "* /")[:60]


def pays(arena: int, best: int) -> bool:
    """Whether the arena with a rewrite is worth its instructions (tests force it)."""
    return arena < best


EVERY = False  # tests: try every candidate, not only those spanning the peak
GROW = True  # taller bands where the arena allows (tests turn it off to keep many short bands)


@dataclass
class Rewrite:
    """One trade of instructions for bytes: `code_op`'s code replaced, `cleared` ops' code moved into it."""

    code_op: int
    cleared: tuple[int, ...]
    span: tuple[int, int]  # the ops between which the bytes it saves were live
    reads: dict[int, list[int]]
    writes: dict[int, list[int]]
    absent: tuple[int, ...]  # tensors that no longer take arena bytes
    note: str
    emit: Callable[[object], str]
    # bands: the code with bands of n rows, and the heights to try after the first (apply keeps the
    # largest that does not grow the arena: fewer calls and row moves)
    emit_rows: Callable[[object, int], str] | None = None
    heights: Callable[[object], range] | None = None


def rewrites(model: Model, skipped: set[int] | frozenset[int]) -> list[Rewrite]:
    """Every candidate: residual skips to recompute, expansions to run in bands (aot/bands.py)."""
    from tinydeploy.aot import bands

    found = []
    for c in candidates(model, skipped):
        add = model.operators[c.add]
        reads = {c.add: [c.source if t == c.skip else t for t in add.inputs]}
        found.append(Rewrite(c.add, (), (c.conv, c.add), reads, {}, (), "skip recomputed",
                             lambda ctx, c=c: emit_recompute(ctx, c)[1]))
    for b in bands.candidates(model, skipped):
        found.append(Rewrite(b.depthwise, (b.expand,), (b.expand, b.depthwise),
                             {b.expand: [], b.depthwise: [b.source]}, {b.expand: []}, (b.mid,),
                             "with the expansion in bands", lambda ctx, b=b: bands.emit_bands(ctx, b),
                             lambda ctx, n, b=b: bands.emit_bands(ctx, b, n),
                             lambda ctx, b=b: bands.taller_rows(ctx, b)))
    return found


def apply(ctx, skipped: set[int] | frozenset[int], plan_with: Callable[[Access], object]
          ) -> Access:  # type: ignore[no-untyped-def]
    """Apply, in the generator's context, the rewrites that lower the arena, peak by peak: while a rewrite
    spans the op where most bytes are live, try those (plan_with(access) plans with the context's current
    scratch and returns a MemoryPlan); stop when none pays.  Returns the planner's read/write override."""
    from tinydeploy.errors import UnsupportedOpError, UserError

    model = ctx.model
    access = Access()
    plan = plan_with(access)
    slots = {o.index: o for o in ctx.ops}
    pending = [rw for rw in rewrites(model, skipped)
               if rw.code_op in slots and all(k in slots for k in rw.cleared)]
    grown: list[tuple[Rewrite, list[object]]] = []  # the rewrites applied, with the scratch each added
    while pending:
        _, peak_op = plan.peak()
        covering = list(pending) if EVERY else [rw for rw in pending if rw.span[0] <= peak_op <= rw.span[1]]
        accepted = False
        for rw in covering:
            pending.remove(rw)
            if any(k in access or k in access.writes for k in (rw.code_op, *rw.cleared)):
                continue  # an op another rewrite already changed
            tried = _try(ctx, rw, access, plan_with, (UnsupportedOpError, UserError, ValueError))
            if tried is None:
                continue
            trial_plan, code, trial, saved = tried
            if pays(trial_plan.arena_bytes, plan.arena_bytes):
                grown.append((rw, [b for b in ctx.scratch_list if all(b is not a for a in saved[0])]))
                slots[rw.code_op].lines = code.split("\n")
                slots[rw.code_op].comment += f" ({rw.note}: --memory-priority ram)"
                for k in rw.cleared:
                    slots[k].lines = []
                    slots[k].comment += f" (runs inside op #{rw.code_op})"
                ctx.arena_tensors -= set(rw.absent)
                access, plan, accepted = trial, trial_plan, True
                break
            restore(ctx, saved)
        if not accepted:
            break
    for rw, scratch in grown:
        plan = _grow(ctx, rw, scratch, slots[rw.code_op], access, plan, plan_with)
    if access or access.writes:
        _drop_unused(ctx)
    return access


def _grow(ctx, rw: Rewrite, scratch: list[object], slot, access: Access, plan,  # type: ignore[no-untyped-def]
          plan_with):
    """An applied rewrite with taller bands while the arena stays what all the rewrites made it (fewer
    calls per layer): each height re-emitted in place of the last kept (its `scratch` entries), planned,
    kept when the arena does not grow; stops at the first that grows it.  Returns the plan kept."""
    from tinydeploy.errors import UnsupportedOpError, UserError

    if rw.emit_rows is None or rw.heights is None or not GROW:
        return plan
    for n in rw.heights(ctx):
        kept = snapshot(ctx)
        ctx.scratch_list[:] = [b for b in ctx.scratch_list if all(b is not a for a in scratch)]
        before = list(ctx.scratch_list)
        taller = replace(rw, emit=lambda c, n=n: rw.emit_rows(c, n))  # type: ignore[misc]
        tried = _try(ctx, taller, access, plan_with, (UnsupportedOpError, UserError, ValueError))
        if tried is None or tried[0].arena_bytes > plan.arena_bytes:
            restore(ctx, kept)
            break
        plan, slot.lines = tried[0], tried[1].split("\n")
        scratch = [b for b in ctx.scratch_list if all(b is not a for a in before)]
    return plan


def _try(ctx, rw: Rewrite, access: Access, plan_with, errors):  # type: ignore[no-untyped-def]
    """Emit the rewrite's code into ctx and plan with it: (plan, code, override, the context saved before,
    to restore when it does not pay); None when the rewrite does not apply (ctx restored)."""
    saved = snapshot(ctx)
    ctx.op = ctx.model.operators[rw.code_op]
    trial = Access({**access, **rw.reads}, {**access.writes, **rw.writes})
    try:
        code = rw.emit(ctx)
        plan = plan_with(trial)
    except errors:
        restore(ctx, saved)
        return None
    finally:
        ctx.op = None
    return plan, code, trial, saved


def snapshot(ctx):  # type: ignore[no-untyped-def]
    """What emitting a rewrite adds to the context, to take back when it does not apply or pay."""
    return (list(ctx.scratch_list), list(ctx.structs), list(ctx.consts), set(ctx.const_idents),
            dict(ctx.tensor_consts), list(ctx.kernels), {k: set(v) for k, v in ctx.op_kernels.items()},
            set(ctx.arena_tensors))


def restore(ctx, saved) -> None:  # type: ignore[no-untyped-def]
    """ctx as `saved` had it (copies: the same snapshot may be restored again)."""
    scratch, structs, consts, idents, tconsts, kernels, op_kernels, arena_tensors = saved
    ctx.scratch_list[:], ctx.structs[:], ctx.consts[:] = scratch, structs, consts
    ctx.const_idents, ctx.tensor_consts, ctx.kernels = set(idents), dict(tconsts), list(kernels)
    ctx.op_kernels = {k: set(v) for k, v in op_kernels.items()}
    ctx.arena_tensors = set(arena_tensors)


def _drop_unused(ctx) -> None:  # type: ignore[no-untyped-def]
    """Forget the parameter structs and constant arrays of code a rewrite replaced (static data nothing names
    would be dead flash, and an error under -Werror=unused-const-variable)."""
    import re

    from tinydeploy.aot.codegen import _drop_unreferenced_consts

    code = "\n".join(line for op in ctx.ops for line in op.lines)
    kept = list(ctx.structs)
    while True:
        text = code + "\n" + "\n".join(kept)
        still = [s for s in kept if (m := re.match(r"static const \w+ (\w+) =", s)) is None
                 or len(re.findall(rf"\b{m.group(1)}\b", text)) > 1]
        if len(still) == len(kept):
            break
        kept = still
    ctx.structs[:] = kept
    _drop_unreferenced_consts(ctx)
