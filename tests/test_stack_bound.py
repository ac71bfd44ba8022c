"""The static stack bound (flash/stack.py): the deepest call chain over GCC's -fcallgraph-info graphs,
indirect calls bounded by the deepest function that makes none, library calls at a fixed frame, recursion
and dynamic frames unbounded; a build whose bound exceeds its reserved stack is refused with one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tinydeploy.flash.stack import EXCEPTION_FRAME, LIBRARY_FRAME, stack_bound


def _ci(path: Path, frames: dict[str, str], edges: list[tuple[str, str]]) -> Path:
    lines = ['graph: { title: "x.c"']
    for name, frame in frames.items():
        lines.append(f'node: {{ title: "{name}" label: "{name}\\nx.c:1:1\\n{frame}" }}')
    for src, dst in edges:
        lines.append(f'edge: {{ sourcename: "{src}" targetname: "{dst}" }}')
    path.write_text("\n".join(lines) + "\n}\n")
    return path


def test_deepest_chain_with_indirect_and_library_calls(tmp_path: Path) -> None:
    ci = _ci(tmp_path / "a.ci",
             {"main": "16 bytes (static)", "run": "40 bytes (static)", "kernel": "200 bytes (static)",
              "hook": "24 bytes (static)", "small": "8 bytes (static)",
              "mps2_systick_isr": "0 bytes (static)"},
             [("main", "run"), ("run", "kernel"), ("run", "small"), ("kernel", "__indirect_call"),
              ("hook", "memcpy")])
    bound = stack_bound([ci])
    # main -> run -> kernel -> (indirect) hook -> memcpy, plus the SysTick interrupt's exception frame
    assert bound.bytes == 16 + 40 + 200 + 24 + LIBRARY_FRAME + EXCEPTION_FRAME
    assert bound.chain[:3] == ["main", "run", "kernel"] and "hook" in bound.chain[3]


@pytest.mark.parametrize("frames, edges, why", [
    ({"main": "8 bytes (static)", "f": "8 bytes (static)"}, [("main", "f"), ("f", "main")], "recursion"),
    ({"main": "8 bytes (static)", "f": "8 bytes (dynamic)"}, [("main", "f")], "dynamic"),
])
def test_unbounded(tmp_path: Path, frames: dict[str, str], edges: list[tuple[str, str]], why: str) -> None:
    bound = stack_bound([_ci(tmp_path / "b.ci", frames, edges)])
    assert bound.bytes is None and why in bound.why


def test_build_refuses_a_stack_too_small(tmp_path: Path) -> None:
    from aotutil_builder import OpSpec, TensorSpec, write_tflite
    from tinydeploy.boards import get_board
    from tinydeploy.flash.firmware import FirmwareBuildError, compile_firmware
    from tinydeploy.render.aot import AOT_BUILD_FLAGS, render_aot

    path = write_tflite([TensorSpec((1, 8), "int8", scale=0.1), TensorSpec((1, 8), "int8", scale=0.1)],
                        [OpSpec("RELU", [0], [1])], [0], [1])
    board = get_board("qemu-m4")
    out = tmp_path / "fw"
    render_aot(path, board, out)
    src = out / "src"
    sources = (sorted(src.glob("*.c")) + sorted((src / "aot" / "kernels").glob("*.c"))
               + sorted((src / "harness").glob("*.c")))
    includes = [src, src / "aot" / "kernels", src / "harness", out / "include"]
    flags = [f for f in AOT_BUILD_FLAGS if not f.startswith("-O")]
    with pytest.raises(FirmwareBuildError, match=r"the stack may need \d+ B but 256 B are reserved"):
        compile_firmware(board, sources, includes, out / "small", name="fw", extra_flags=flags, stack_bytes=256)
