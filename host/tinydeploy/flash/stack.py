"""A static bound on the firmware's main stack, from the compiler's own call graph and frame sizes.

Every Arm object is compiled with `-fcallgraph-info=su`: GCC writes, next to the object, a .ci file (VCG
graph) with one node per function (its frame in bytes: static, dynamic or bounded) and one edge per call.
The bound is the deepest path from the entry points (main and the interrupt handlers, which run on the same
stack on top of an exception frame):

- an indirect call (a kernel's fetch or requantization hook through a function pointer) may go to any
  function that is called indirectly somewhere... which the graph does not say; it is bounded by the
  deepest function of the build that makes no indirect call itself (kernels' hooks are leaves or near-leaves);
- a function the graph has no frame for (the C library: memcpy, memset, ...) counts LIBRARY_FRAME bytes;
- recursion or a dynamic (unbounded alloca/VLA) frame makes the bound unknown (None).

The firmware also paints its stack and reports the high-water mark it reaches (td_stack_used(), in every
RESULT; `deploy run` shows it as "stack" in the memory line); this bound is what no input can exceed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

LIBRARY_FRAME = 128  # bytes for a call into a function compiled elsewhere (newlib's memcpy/memset: ~0-40)
EXCEPTION_FRAME = 104  # an interrupt's stacked registers with the FPU context (26 words)
ENTRY_POINTS = ("td_reset_handler", "main")
INDIRECT = "__indirect_call"

_NODE = re.compile(r'node: \{ title: "([^"]+)" label: "([^"]*)"')
_EDGE = re.compile(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"')
_FRAME = re.compile(r"\\n(\d+) bytes \(([a-z,]+)\)")


@dataclass
class StackBound:
    bytes: int | None  # None: not bounded statically (recursion, dynamic frame)
    chain: list[str]  # the deepest path, entry point first
    why: str = ""  # when unbounded

    def describe(self) -> str:
        if self.bytes is None:
            return f"stack: no static bound ({self.why})"
        return f"stack: at most {self.bytes} B ({' -> '.join(self.chain)})"


def parse_callgraphs(ci_files: list[Path]) -> tuple[dict[str, tuple[int, bool]], dict[str, set[str]]]:
    """(function -> (frame bytes, dynamic), caller -> callees) over all .ci files."""
    frames: dict[str, tuple[int, bool]] = {}
    calls: dict[str, set[str]] = {}
    for path in ci_files:
        text = path.read_text(errors="replace")
        for title, label in _NODE.findall(text):
            m = _FRAME.search(label)
            if m:
                dynamic = "dynamic" in m.group(2) and "bounded" not in m.group(2)
                frames[_short(title)] = (int(m.group(1)), dynamic)
        for src, dst in _EDGE.findall(text):
            calls.setdefault(_short(src), set()).add(_short(dst))
    return frames, calls


def _short(title: str) -> str:
    """A static function's title is 'file:name'; keep 'name' (unique enough for a bound: the larger frame
    wins when two files define the same static name)."""
    return title.rsplit(":", 1)[-1] if ":" in title and "/" in title else title


DEFAULT_HANDLERS = ("mps2_systick_isr", "mps2_irq_dispatch")


def stack_bound(ci_files: list[Path], handlers: tuple[str, ...] = DEFAULT_HANDLERS) -> StackBound:
    frames, calls = parse_callgraphs(ci_files)
    memo: dict[str, tuple[int, list[str]]] = {}
    active: set[str] = set()

    class Unbounded(Exception):
        pass

    def deepest(fn: str) -> tuple[int, list[str]]:
        if fn in memo:
            return memo[fn]
        if fn in active:
            raise Unbounded(f"recursion through {fn}")
        if fn == INDIRECT:
            return indirect_cost()
        frame, dynamic = frames.get(fn, (LIBRARY_FRAME, False))
        if dynamic:
            raise Unbounded(f"{fn} has a dynamic frame")
        active.add(fn)
        best: tuple[int, list[str]] = (0, [])
        try:
            for callee in sorted(calls.get(fn, ())):
                best = max(best, deepest(callee), key=lambda r: r[0])
        finally:
            active.discard(fn)
        memo[fn] = (frame + best[0], [fn, *best[1]])
        return memo[fn]

    indirect_memo: list[tuple[int, list[str]]] = []

    def indirect_cost() -> tuple[int, list[str]]:
        if not indirect_memo:
            targets = [f for f in frames if INDIRECT not in calls.get(f, ()) and f not in ENTRY_POINTS
                       and f not in active]
            best: tuple[int, list[str]] = (LIBRARY_FRAME, ["(indirect)"])
            for f in targets:
                try:
                    cost = deepest(f)
                except Unbounded:
                    continue
                if cost[0] > best[0]:
                    best = (cost[0], [f"(indirect) {cost[1][0]}", *cost[1][1:]])
            indirect_memo.append(best)
        return indirect_memo[0]

    try:
        entries = [e for e in ENTRY_POINTS if e in frames]
        if not entries:
            return StackBound(None, [], "no reset handler or main() in the call graph")
        main_cost = deepest(entries[0])
        # interrupts stack on top of whatever runs, each with its exception frame; nesting is at most one
        # level per handler, so all of them are added
        irqs = [deepest(h) for h in handlers if h in frames]
    except Unbounded as err:
        return StackBound(None, [], str(err))
    total = main_cost[0] + sum(EXCEPTION_FRAME + cost for cost, _ in irqs)
    chain = main_cost[1] + [f"+ interrupt {path[0]} ({cost} B)" for cost, path in irqs]
    return StackBound(total, chain)
