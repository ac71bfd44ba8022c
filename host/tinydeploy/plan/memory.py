"""Static memory planner: every activation, model input/output and per-op scratch buffer in one arena.

Each tensor lives from the op that writes it (model inputs: from the start) to the last op that reads it
(model outputs: to the end).  Two buffers may share bytes only if their lifetimes do not overlap.  Tensors
that are the very same bytes (RESHAPE/SQUEEZE aliases) and in-place pairs (an element-wise op writing over
an input that dies at that op) are merged into one buffer before placement.  Placement is greedy: take the
buffers in some order and put each at the lowest (first fit) or tightest (best fit) offset that does not
collide with an already placed, simultaneously live buffer; several orders are tried and the smallest arena
kept.

Overlaps (plan/overlap.py): a convolution whose kernel writes in raster order may have its output start
`gap` bytes before its input, partly over it, when the input dies at that op.  The two tensors' groups then
form one compound buffer, each tensor at a fixed offset inside it (so a chain conv -> depthwise -> conv
slides along one region).  The plan is made with and without the overlaps and the smaller arena kept.

Works from a bare Model (no lowering info) for `deploy inspect`: then constant subgraphs are folded first
and only RESHAPE/SQUEEZE/EXPAND_DIMS are aliased (no in-place reuse, which only the lowerings can allow).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping

from tinydeploy.model.graph import Model

ALIGN = 16
_END = 1 << 30  # "until the end of invoke" for model outputs

# Ops whose output is the same bytes as their first input when run by the aot engine.
ALIAS_OPS = ("RESHAPE", "SQUEEZE", "EXPAND_DIMS")


@dataclass(frozen=True)
class Scratch:
    """A per-op temporary buffer, live only while that op runs."""

    op: int
    name: str
    nbytes: int
    align: int = ALIGN


@dataclass(frozen=True)
class Span:
    """One group of tensors sharing the same bytes (aliases, in-place pairs) inside a buffer."""

    rel: int  # offset inside its buffer
    nbytes: int
    first: int
    last: int
    tensors: tuple[int, ...]
    gid: int  # the group's id (its union-find root)


@dataclass
class Buffer:
    """One placed region of the arena: a group of tensors sharing bytes, one scratch buffer, or a compound of
    groups at fixed offsets from each other (a convolution's output overlapping its input)."""

    id: int
    nbytes: int
    first: int  # first op index it must be live at (-1: before the first op, i.e. a model input)
    last: int  # last op index it must be live at
    tensors: list[int] = field(default_factory=list)
    scratch: Scratch | None = None
    offset: int = -1
    align: int = ALIGN
    spans: list[Span] = field(default_factory=list)  # the groups inside (one for a plain buffer)
    allowed: frozenset[tuple[int, int]] = frozenset()  # (src gid, dst gid) pairs whose bytes may overlap

    def overlaps_in_time(self, other: "Buffer") -> bool:
        return self.first <= other.last and other.first <= self.last

    def members(self) -> list[Span]:
        return self.spans or [Span(0, self.nbytes, self.first, self.last, tuple(self.tensors), -1 - self.id)]

    @property
    def label(self) -> str:
        if self.scratch is not None:
            return f"scratch[{self.scratch.name}]"
        return ",".join(f"t{t}" for t in self.tensors)


class Access(dict):
    """op index -> the tensors its code reads instead of its inputs; .writes: op index -> the tensors it
    writes instead of its outputs (aot/recompute.py: skips recomputed, layers fused into bands)."""

    def __init__(self, reads: Mapping[int, list[int]] | None = None,
                 writes: Mapping[int, list[int]] | None = None) -> None:
        super().__init__(reads or {})
        self.writes: dict[int, list[int]] = dict(writes or {})


@dataclass
class MemoryPlan:
    arena_bytes: int
    buffers: list[Buffer]
    offsets: dict[int, int]  # tensor index -> arena offset
    first_use: dict[int, int]
    last_use: dict[int, int]
    scratch_offsets: dict[tuple[int, str], int]  # (op, name) -> offset
    strategy: str
    model: Model | None = field(default=None, repr=False)
    overlaps_used: list[tuple[int, int, int, int]] = field(default_factory=list)  # (op, src, dst, gap) applied

    @property
    def naive_bytes(self) -> int:
        """What the arena would be with no reuse at all (every buffer side by side)."""
        return sum(_align_up(m.nbytes, b.align) for b in self.buffers for m in b.members())

    def live_bytes(self) -> dict[int, int]:
        """Bytes of the arena in use while each op runs (overlapping tensors counted once)."""
        times = sorted({t for b in self.buffers for m in b.members() for t in (m.first, m.last) if t < _END})
        spans = [(b.offset + m.rel, m.nbytes, m.first, m.last) for b in self.buffers for m in b.members()]
        live: dict[int, int] = {}
        for now in range(min(times, default=0), max(times, default=-1) + 1):
            intervals = sorted((o, o + n) for o, n, f, l in spans if f <= now <= l and n > 0)
            total, end = 0, -1
            for lo, hi in intervals:
                if hi > end:
                    total += hi - max(lo, end)
                    end = hi
            live[now] = total
        return live

    def peak(self) -> tuple[int, int]:
        """(most bytes live at once, the op index where that happens; -1: before the first op)."""
        live = self.live_bytes()
        if not live:
            return 0, -1
        at = max(live, key=lambda t: (live[t], -t))
        return live[at], at

    def table(self) -> str:
        """A printable table: one row per group of tensors sharing bytes, sorted by offset; tensors that overlap
        a convolution's input are marked; then the peak and the op that sets it."""
        rows = [f"{'offset':>8} {'bytes':>8} {'life':>11}  tensors"]
        placed = [(b.offset + m.rel, b.id, m, b) for b in self.buffers for m in b.members()]
        over = {dst: (op, src, gap) for op, src, dst, gap in self.overlaps_used}
        for offset, _, m, b in sorted(placed, key=lambda r: (r[0], r[1], r[2].rel)):
            life = f"{_fmt_time(m.first)}..{_fmt_time(m.last)}"
            if b.scratch is not None:
                names = f"scratch of op #{b.scratch.op} ({b.scratch.name})"
            else:
                names = ", ".join(self._name(t) for t in m.tensors)
                for t in m.tensors:
                    if t in over:
                        op, src, gap = over[t]
                        names = f"[op #{op} writes t{t} over its input t{src}, {gap} B ahead] {names}"
            rows.append(f"{offset:>8} {m.nbytes:>8} {life:>11}  {names}")
        peak, at = self.peak()
        where = "before the first op" if at < 0 else f"at op #{at}"
        if self.model is not None and 0 <= at < len(self.model.operators):
            where += f" {self.model.operators[at].opcode}"
        rows.append(f"arena: {self.arena_bytes} bytes (no reuse: {self.naive_bytes}; strategy {self.strategy}; "
                    f"{len(self.overlaps_used)} conv outputs over their inputs)")
        rows.append(f"peak: {peak} bytes live {where}")
        return "\n".join(rows)

    def _name(self, t: int) -> str:
        return self.model.tensors[t].name if self.model is not None else f"t{t}"


def _fmt_time(t: int) -> str:
    if t < 0:
        return "in"
    if t >= _END:
        return "out"
    return str(t)


def _align_up(n: int, a: int) -> int:
    return (n + a - 1) // a * a


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        self.parent.setdefault(x, x)
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:  # path compression, iteratively
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra


def tensor_lifetimes(model: Model, skip_ops: Iterable[int] = (), reads: Mapping[int, list[int]] | None = None
                     ) -> tuple[dict[int, int], dict[int, int]]:
    """first/last op index of every non-constant tensor the (non-skipped) ops touch, plus model I/O.
    reads: op index -> the tensors that op's code reads instead of its inputs (aot/recompute.py); an
    Access also overrides what ops write (a fused op's intermediate tensor takes no bytes)."""
    skipped = set(skip_ops)
    first: dict[int, int] = {}
    last: dict[int, int] = {}

    def touch(t: int, at: int) -> None:
        first[t] = min(first.get(t, at), at)
        last[t] = max(last.get(t, at), at)

    for t in model.inputs:
        touch(t, -1)
    writes = getattr(reads, "writes", {})
    for op in model.operators:
        if op.index in skipped:
            continue
        for t in writes.get(op.index, op.outputs):
            if t >= 0 and not model.tensors[t].is_constant:
                touch(t, op.index)
        for t in (reads or {}).get(op.index, op.inputs):
            if t >= 0 and not model.tensors[t].is_constant:
                touch(t, op.index)
    for t in model.outputs:
        if not model.tensors[t].is_constant:
            touch(t, _END)
    return first, last


def plan_memory(
    model: Model,
    *,
    inplace: Iterable[tuple[int, int, int]] = (),
    aliases: Iterable[tuple[int, int, int]] | None = None,
    scratch: Iterable[Scratch] = (),
    skip_ops: Iterable[int] = (),
    nbytes: Callable[[int], int] | None = None,
    overlaps: Iterable[tuple[int, int, int, int]] | None = None,
    reads: Mapping[int, list[int]] | None = None,
) -> MemoryPlan:
    """Place every live tensor of `model` in one arena.

    inplace: (op, src, dst) pairs where the op's kernel may write dst over src.
    aliases: (op, src, dst) pairs where dst is the very same bytes as src; None = a bare Model: fold its
             constant subgraphs and alias every RESHAPE/SQUEEZE/EXPAND_DIMS (what the aot engine does).
    scratch: per-op temporary buffers.
    skip_ops: ops that run no code (constant-folded at build time).
    nbytes: tensor index -> bytes (default: the tensor's own size).
    overlaps: (op, src, dst, gap) where the op's kernel may write dst over src if src starts at least gap
              bytes after dst (plan/overlap.py); None with a bare Model: every convolution's.
    reads: op index -> the tensors the op's code reads instead of its inputs (a recomputed skip).
    """
    skipped = set(skip_ops)
    if aliases is None:
        # A bare model: fold constant subgraphs first, as the aot generator does, so shape arithmetic
        # takes no arena bytes.
        from tinydeploy.aot.fold import fold_constants
        from tinydeploy.plan.overlap import conv_overlaps

        folded = fold_constants(model)
        model, skipped = folded.model, skipped | folded.skipped
        if overlaps is None:
            overlaps = conv_overlaps(model, skipped)
    size_of = nbytes or (lambda t: model.tensors[t].nbytes)
    first, last = tensor_lifetimes(model, skipped, reads)
    if aliases is None:
        aliases = [
            (op.index, op.inputs[0], op.outputs[0])
            for op in model.operators
            if op.opcode in ALIAS_OPS and op.index not in skipped and op.inputs and op.outputs
            and op.inputs[0] in first and op.outputs[0] in first
        ]

    groups = _UnionFind()
    for t in first:
        groups.find(t)
    for _op, src, dst in aliases:
        groups.union(src, dst)

    def group_span(root: int) -> tuple[int, int]:
        members = [t for t in first if groups.find(t) == root]
        return min(first[t] for t in members), max(last[t] for t in members)

    # In-place: dst may reuse src's bytes when src's whole alias group dies at this op and dst's group
    # starts there (so nothing else is live in those bytes in between).
    for op_index, src, dst in inplace:
        if src not in first or dst not in first:
            continue
        rs, rd = groups.find(src), groups.find(dst)
        if rs == rd:
            continue
        s_first, s_last = group_span(rs)
        d_first, _ = group_span(rd)
        if s_last == op_index and d_first == op_index and src not in model.outputs:
            groups.union(rs, rd)

    by_root: dict[int, list[int]] = {}
    for t in sorted(first):
        by_root.setdefault(groups.find(t), []).append(t)
    spans = {root: Span(0, max(size_of(t) for t in members), min(first[t] for t in members),
                        max(last[t] for t in members), tuple(members), root)
             for root, members in by_root.items()}
    scratch_list = [s for s in scratch if s.nbytes > 0]
    candidates = [(op, src, dst, _align_up(max(0, gap), ALIGN)) for op, src, dst, gap in (overlaps or ())
                  if src in first and dst in first and groups.find(src) != groups.find(dst)
                  and src not in model.outputs]

    def attempt(chosen: list[tuple[int, int, int, int]]) -> _Attempt | None:
        compounds = _compounds(spans, chosen, groups.find)
        return None if compounds is None else _best_placement(compounds, scratch_list, chosen)

    best = attempt([])
    assert best is not None
    chosen = _choose_overlaps(candidates, attempt, best) if candidates else []
    final = attempt(chosen) if chosen else None
    if final is None:
        chosen = []
    else:
        best = final

    buffers = best.buffers
    tensor_offsets = {t: b.offset + m.rel for b in buffers for m in b.members() for t in m.tensors}
    scratch_offsets = {(b.scratch.op, b.scratch.name): b.offset for b in buffers if b.scratch is not None}
    used = [(op, src, dst, gap) for op, src, dst, gap in chosen]
    return MemoryPlan(arena_bytes=best.arena, buffers=buffers, offsets=tensor_offsets, first_use=first,
                      last_use=last, scratch_offsets=scratch_offsets, strategy=best.strategy, model=model,
                      overlaps_used=used)


MAX_OVERLAP_STEPS = 48  # bounds the planning time on models with hundreds of convolutions
LOOKAHEAD = 6  # overlaps tried per step (those at the ops with the most live bytes)


def _choose_overlaps(candidates: list[tuple[int, int, int, int]],
                     attempt: Callable[[list[tuple[int, int, int, int]]], "_Attempt | None"],
                     baseline: "_Attempt") -> list[tuple[int, int, int, int]]:
    """Which overlaps to apply.  Each one lowers the bytes live at its op, but chained overlaps drift the
    tensors of a chain apart (every output starts below its input), and a rigid chain can place worse.  So:
    walk from no overlap, each step applying the one at the op with the most live bytes (even when the
    arena does not shrink yet: the peak moves on to the next op), keep the best arena seen, then drop the
    overlaps that do not pay for themselves."""
    current: list[tuple[int, int, int, int]] = []
    plan = baseline
    best, best_arena = [], baseline.arena
    left = set(range(len(candidates)))
    stale = 0
    for _ in range(min(len(candidates), MAX_OVERLAP_STEPS)):
        live = plan.plan_live()
        ranked = sorted(left, key=lambda k: (-live.get(candidates[k][0], 0), k))[:LOOKAHEAD]
        trials = []
        for k in ranked:
            trial = attempt(current + [candidates[k]])
            if trial is None:
                left.discard(k)  # not applicable with the overlaps already chosen (nor later: they only grow)
            else:
                trials.append((_score(trial) + (k,), k, trial))
        if not trials:
            if not left:
                break
            continue
        _, k, plan = min(trials, key=lambda t: t[0])
        left.discard(k)
        current = current + [candidates[k]]
        if plan.arena < best_arena:
            best, best_arena, stale = list(current), plan.arena, 0
        else:
            stale += 1
            if stale >= 2 * LOOKAHEAD:
                break
    for item in list(best):  # prune: an overlap whose removal does not grow the arena is not needed
        without = [c for c in best if c != item]
        trial = attempt(without)
        if trial is not None and trial.arena <= best_arena:
            best, best_arena = without, trial.arena
    return best


def _score(plan: "_Attempt") -> tuple[int, int, int, int]:
    """Smaller is better: the arena, then the live peak, how many ops reach it, and the bytes live summed
    over all ops (so that steps which do not shrink the arena yet still make progress)."""
    live = list(plan.plan_live().values()) or [0]
    peak = max(live)
    return plan.arena, peak, sum(1 for v in live if v == peak), sum(live)


@dataclass
class _Attempt:
    arena: int
    strategy: str
    buffers: list[Buffer]

    def plan_live(self) -> dict[int, int]:
        return MemoryPlan(self.arena, self.buffers, {}, {}, {}, {}, self.strategy).live_bytes()


def _compounds(spans: dict[int, Span], chosen: list[tuple[int, int, int, int]],
               find: Callable[[int], int]) -> list[list[Span]] | None:
    """Join the groups the chosen overlaps tie together into rigid compounds (each group at a fixed offset,
    the smallest at 0); None when an overlap is not applicable (its input lives on past the op, its output
    starts earlier, or other tensors of the two sides would collide)."""
    comp_of = {root: root for root in spans}
    members: dict[int, dict[int, int]] = {root: {root: 0} for root in spans}  # compound -> {gid: rel}
    for op, src, dst, gap in chosen:
        rs, rd = find(src), find(dst)
        cs, cd = comp_of[rs], comp_of[rd]
        if cs == cd:
            return None
        if max(spans[g].last for g in members[cs]) != op or min(spans[g].first for g in members[cd]) != op:
            return None
        shift = members[cs][rs] - gap - members[cd][rd]
        moved = {g: rel + shift for g, rel in members[cd].items()}
        for a, ra in members[cs].items():
            for b, rb in moved.items():
                sa, sb = spans[a], spans[b]
                if (a, b) == (rs, rd) or not (sa.first <= sb.last and sb.first <= sa.last):
                    continue
                if ra < rb + sb.nbytes and rb < ra + sa.nbytes:
                    return None
        members[cs].update(moved)
        for g in moved:
            comp_of[g] = cs
        del members[cd]
    result = []
    for comp in members.values():
        low = min(comp.values())
        result.append([Span(rel - low, spans[g].nbytes, spans[g].first, spans[g].last, spans[g].tensors, g)
                       for g, rel in sorted(comp.items(), key=lambda kv: kv[1])])
    return result


def _best_placement(compounds: list[list[Span]], scratch: list[Scratch],
                    chosen: list[tuple[int, int, int, int]]) -> _Attempt:
    buffers: list[Buffer] = []
    for comp in compounds:
        tensors = sorted(t for m in comp for t in m.tensors)
        if len(comp) == 1:
            m = comp[0]
            buffers.append(Buffer(id=len(buffers), nbytes=m.nbytes, first=m.first, last=m.last, tensors=tensors))
            continue
        gids = {m.gid for m in comp}
        buffers.append(Buffer(
            id=len(buffers), nbytes=max(m.rel + m.nbytes for m in comp), first=min(m.first for m in comp),
            last=max(m.last for m in comp), tensors=tensors, spans=comp,
            allowed=frozenset((g_s, g_d) for g_s, g_d in ((_gid_of(comp, src), _gid_of(comp, dst))
                                                          for _op, src, dst, _gap in chosen)
                              if g_s in gids and g_d in gids)))
    for s in scratch:
        buffers.append(Buffer(id=len(buffers), nbytes=s.nbytes, first=s.op, last=s.op, scratch=s,
                              align=max(ALIGN, s.align)))
    best: tuple[int, str, dict[int, int]] | None = None
    for order_name, key in _ORDERS.items():
        ordered = sorted(buffers, key=key)
        for fit_name, fit in (("first-fit", False), ("best-fit", True)):
            offsets = _place(ordered, best_fit=fit)
            size = max((offsets[b.id] + b.nbytes for b in buffers), default=0)
            size = _align_up(size, ALIGN)
            if best is None or size < best[0]:
                best = (size, f"{order_name}/{fit_name}", offsets)
    assert best is not None
    arena, strategy, offsets = best
    for b in buffers:
        b.offset = offsets[b.id]
    return _Attempt(arena, strategy, buffers)


def _gid_of(comp: list[Span], tensor: int) -> int:
    return next((m.gid for m in comp if tensor in m.tensors), -1)


_ORDERS: dict[str, Callable[[Buffer], tuple]] = {
    "size": lambda b: (-b.nbytes, b.first, b.id),
    "area": lambda b: (-b.nbytes * (min(b.last, 10_000) - b.first + 1), b.id),
    "lifetime": lambda b: (-(min(b.last, 10_000) - b.first), -b.nbytes, b.id),
    "first-use": lambda b: (b.first, -b.nbytes, b.id),
}


def _place(ordered: list[Buffer], *, best_fit: bool) -> dict[int, int]:
    """Greedy placement in the given order; returns buffer id -> offset.  A compound buffer is placed as a
    rigid body: each of its groups only claims its bytes while that group is live."""
    placed: list[tuple[int, int, int, int]] = []  # (offset, end, first, last) of every placed group
    offsets: dict[int, int] = {}
    for buf in ordered:
        if buf.spans:
            offset = _place_compound(buf, placed)
        else:
            offset = _place_plain(buf, placed, best_fit)
        offsets[buf.id] = offset
        for m in buf.members():
            placed.append((offset + m.rel, offset + m.rel + m.nbytes, m.first, m.last))
    return offsets


def _place_plain(buf: Buffer, placed: list[tuple[int, int, int, int]], best_fit: bool) -> int:
    busy = sorted((o, e) for o, e, f, l in placed if f <= buf.last and buf.first <= l)
    candidate_gaps: list[tuple[int, int]] = []  # (gap size, offset)
    cursor = 0
    for o, e in busy:
        start = _align_up(cursor, buf.align)
        if o - start >= buf.nbytes:
            candidate_gaps.append((o - start, start))
            if not best_fit:
                break
        cursor = max(cursor, e)
    if candidate_gaps:
        return min(candidate_gaps)[1] if best_fit else candidate_gaps[0][1]
    return _align_up(cursor, buf.align)


def _place_compound(buf: Buffer, placed: list[tuple[int, int, int, int]]) -> int:
    """The lowest aligned offset where no group of the compound collides with a placed, live group."""
    members = buf.members()
    busy = [[(o, e) for o, e, f, l in placed if f <= m.last and m.first <= l] for m in members]
    starts = {0}
    for m, blocks in zip(members, busy):
        starts.update(_align_up(max(0, e - m.rel), buf.align) for _o, e in blocks)
    for base in sorted(starts):
        if all(not (o < base + m.rel + m.nbytes and base + m.rel < e)
               for m, blocks in zip(members, busy) for o, e in blocks):
            return base
    raise AssertionError("unreachable: past every placed group there is room")


def check_plan(plan: MemoryPlan) -> None:
    """The plan's invariant: every buffer aligned and inside the arena, and no two tensors live at the same
    time share a byte, except a convolution's output over its input as the plan's overlaps allow.  A
    violation is a planner bug that would corrupt memory silently: RuntimeError."""
    bufs = plan.buffers
    placed = []
    for a in bufs:
        if a.offset < 0 or a.offset % a.align:
            raise RuntimeError(f"memory plan: buffer {a.label} misaligned at {a.offset}")
        if a.offset + a.nbytes > plan.arena_bytes:
            raise RuntimeError(f"memory plan: buffer {a.label} ({a.offset}+{a.nbytes} B) past the arena end "
                               f"({plan.arena_bytes} B)")
        for m in a.members():
            if m.rel % a.align or m.rel + m.nbytes > a.nbytes:
                raise RuntimeError(f"memory plan: group {m.tensors} misplaced inside buffer {a.label}")
            placed.append((a.offset + m.rel, m, a))
    for i, (oa, ma, ba) in enumerate(placed):
        for ob, mb, bb in placed[i + 1:]:
            if not (ma.first <= mb.last and mb.first <= ma.last):
                continue
            if oa + ma.nbytes <= ob or ob + mb.nbytes <= oa:
                continue
            if ba is bb and ((ma.gid, mb.gid) in ba.allowed or (mb.gid, ma.gid) in ba.allowed):
                continue
            raise RuntimeError(f"memory plan: buffers {ba.label} and {bb.label} overlap while both live")
