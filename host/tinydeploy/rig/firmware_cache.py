"""Firmware built once per (board, runtime, model), shared by every test, session and xdist worker.

`tinydeploy.pipeline.build_firmware` does the caching: it re-renders the project (cheap, and unchanged files
keep their mtimes) and skips PlatformIO entirely when the project's sources and ELF are exactly what its
last build left, under a file lock so that concurrent workers build once: the first builds, the others
wait and reuse.  A changed model, or a changed tinydeploy that renders different sources, rebuilds.
This module adapts the result to what a rig needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tinydeploy.boards import Board
from tinydeploy.errors import UserError


@dataclass(frozen=True)
class Firmware:
    """What a rig needs to run a model: the ELF, and the model it was built from."""

    board: Board
    runtime: str
    model_path: Path
    model_sha256: str
    elf: Path
    project_dir: Path
    built_now: bool  # False when the stamp was reused (no render, no PlatformIO run)
    arena_estimate: int | None = None  # the host's arena estimate, held against the device's figure by verify


def cached_firmware(model_path: str | Path, board: Board, runtime: str = "aot", **options) -> Firmware:
    """The firmware running `model_path` on `board`: reused when its project is unchanged, else built now."""
    from tinydeploy.pipeline import build_firmware

    model_path = Path(model_path)
    if not model_path.is_file():
        raise UserError(f"{model_path}: no such model file", hint="pass --tinydeploy-model PATH.tflite")
    fw = build_firmware(model_path, board, runtime, **options)
    return Firmware(board=board, runtime=runtime, model_path=model_path, model_sha256=fw.model_sha256,
                    elf=fw.build.elf, project_dir=fw.project_dir, built_now=fw.built_now,
                    arena_estimate=fw.arena_estimate)
