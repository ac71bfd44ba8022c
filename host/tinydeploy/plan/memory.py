"""Static memory planner: every activation, model input/output and per-op scratch buffer in one arena.

Each tensor lives from the op that writes it (model inputs: from the start) to the last op that reads it
(model outputs: to the end).  Two buffers may share bytes only if their lifetimes do not overlap.  Tensors
that are the very same bytes (RESHAPE/SQUEEZE aliases) and in-place pairs (an element-wise op writing over
an input that dies at that op) are merged into one buffer before placement.  Placement is greedy: take the
buffers in some order and put each at the lowest (first fit) or tightest (best fit) offset that does not
collide with an already placed, simultaneously live buffer; several orders are tried and the smallest arena
kept.

Works from a bare Model (no lowering info) for `deploy inspect`: then constant subgraphs are folded first
and only RESHAPE/SQUEEZE/EXPAND_DIMS are aliased (no in-place reuse, which only the lowerings can allow).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

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


@dataclass
class Buffer:
    """One placed region of the arena: a group of tensors sharing bytes, or one scratch buffer."""

    id: int
    nbytes: int
    first: int  # first op index it must be live at (-1: before the first op, i.e. a model input)
    last: int  # last op index it must be live at
    tensors: list[int] = field(default_factory=list)
    scratch: Scratch | None = None
    offset: int = -1
    align: int = ALIGN

    def overlaps_in_time(self, other: "Buffer") -> bool:
        return self.first <= other.last and other.first <= self.last

    @property
    def label(self) -> str:
        if self.scratch is not None:
            return f"scratch[{self.scratch.name}]"
        return ",".join(f"t{t}" for t in self.tensors)


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

    @property
    def naive_bytes(self) -> int:
        """What the arena would be with no reuse at all (every buffer side by side)."""
        return sum(_align_up(b.nbytes, b.align) for b in self.buffers)

    def table(self) -> str:
        """A printable table: one row per buffer, sorted by offset."""
        rows = [f"{'offset':>8} {'bytes':>8} {'life':>11}  tensors"]
        for b in sorted(self.buffers, key=lambda b: (b.offset, b.id)):
            life = f"{_fmt_time(b.first)}..{_fmt_time(b.last)}"
            names = b.label
            if self.model is not None and b.scratch is None:
                names = ", ".join(f"{self.model.tensors[t].name}" for t in b.tensors)
            rows.append(f"{b.offset:>8} {b.nbytes:>8} {life:>11}  {names}")
        rows.append(f"arena: {self.arena_bytes} bytes (no reuse: {self.naive_bytes}; strategy {self.strategy})")
        return "\n".join(rows)


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


def tensor_lifetimes(model: Model, skip_ops: Iterable[int] = ()) -> tuple[dict[int, int], dict[int, int]]:
    """first/last op index of every non-constant tensor the (non-skipped) ops touch, plus model I/O."""
    skipped = set(skip_ops)
    first: dict[int, int] = {}
    last: dict[int, int] = {}

    def touch(t: int, at: int) -> None:
        first[t] = min(first.get(t, at), at)
        last[t] = max(last.get(t, at), at)

    for t in model.inputs:
        touch(t, -1)
    for op in model.operators:
        if op.index in skipped:
            continue
        for t in op.outputs:
            if t >= 0 and not model.tensors[t].is_constant:
                touch(t, op.index)
        for t in op.inputs:
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
) -> MemoryPlan:
    """Place every live tensor of `model` in one arena.

    inplace: (op, src, dst) pairs where the op's kernel may write dst over src.
    aliases: (op, src, dst) pairs where dst is the very same bytes as src; None = a bare Model: fold its
             constant subgraphs and alias every RESHAPE/SQUEEZE/EXPAND_DIMS (what the aot engine does).
    scratch: per-op temporary buffers.
    skip_ops: ops that run no code (constant-folded at build time).
    nbytes: tensor index -> bytes (default: the tensor's own size).
    """
    skipped = set(skip_ops)
    if aliases is None:
        # A bare model: fold constant subgraphs first, as the aot generator does, so shape arithmetic
        # takes no arena bytes.
        from tinydeploy.aot.fold import fold_constants

        folded = fold_constants(model)
        model, skipped = folded.model, skipped | folded.skipped
    size_of = nbytes or (lambda t: model.tensors[t].nbytes)
    first, last = tensor_lifetimes(model, skipped)
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
    buffers: list[Buffer] = []
    for members in by_root.values():
        buffers.append(Buffer(
            id=len(buffers),
            nbytes=max(size_of(t) for t in members),
            first=min(first[t] for t in members),
            last=max(last[t] for t in members),
            tensors=members,
        ))
    for s in scratch:
        if s.nbytes <= 0:
            continue
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

    tensor_offsets = {t: b.offset for b in buffers for t in b.tensors}
    scratch_offsets = {(b.scratch.op, b.scratch.name): b.offset for b in buffers if b.scratch is not None}
    return MemoryPlan(arena_bytes=arena, buffers=buffers, offsets=tensor_offsets, first_use=first,
                      last_use=last, scratch_offsets=scratch_offsets, strategy=strategy, model=model)


_ORDERS: dict[str, Callable[[Buffer], tuple]] = {
    "size": lambda b: (-b.nbytes, b.first, b.id),
    "area": lambda b: (-b.nbytes * (min(b.last, 10_000) - b.first + 1), b.id),
    "lifetime": lambda b: (-(min(b.last, 10_000) - b.first), -b.nbytes, b.id),
    "first-use": lambda b: (b.first, -b.nbytes, b.id),
}


def _place(ordered: list[Buffer], *, best_fit: bool) -> dict[int, int]:
    """Greedy placement in the given order; returns buffer id -> offset."""
    placed: list[tuple[int, int, Buffer]] = []  # (offset, end, buffer)
    offsets: dict[int, int] = {}
    for buf in ordered:
        busy = sorted((o, e) for o, e, other in placed if other.overlaps_in_time(buf))
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
            offset = min(candidate_gaps)[1] if best_fit else candidate_gaps[0][1]
        else:
            offset = _align_up(cursor, buf.align)
        offsets[buf.id] = offset
        placed.append((offset, offset + buf.nbytes, buf))
    return offsets


def check_plan(plan: MemoryPlan) -> None:
    """The plan's invariant: every buffer aligned and inside the arena, and no two buffers live at the same
    time share a byte.  A violation is a planner bug that would corrupt memory silently: RuntimeError."""
    bufs = plan.buffers
    for i, a in enumerate(bufs):
        if a.offset < 0 or a.offset % a.align:
            raise RuntimeError(f"memory plan: buffer {a.label} misaligned at {a.offset}")
        if a.offset + a.nbytes > plan.arena_bytes:
            raise RuntimeError(f"memory plan: buffer {a.label} ({a.offset}+{a.nbytes} B) past the arena end "
                               f"({plan.arena_bytes} B)")
        for b in bufs[i + 1:]:
            if a.overlaps_in_time(b) and not (a.offset + a.nbytes <= b.offset or b.offset + b.nbytes <= a.offset):
                raise RuntimeError(f"memory plan: buffers {a.label} and {b.label} overlap while both live")
