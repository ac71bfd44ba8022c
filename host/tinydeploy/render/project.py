"""Write a PlatformIO project for one board around a runtime's generated sources.

The runtime renderers (render/aot.py, render/tflm.py) produce only what is specific to the model and the
runtime; this module adds what is specific to the board (platformio.ini environment, platform sources,
linker script, the device harness) so that board knowledge stays in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tinydeploy.boards import Board


@dataclass
class GeneratedFile:
    """A file to place in the project: `content` text, or a copy of `source`."""

    path: str  # relative to the project's src/ (e.g. "model.c", "kernels/conv2d_s8.c")
    content: str | None = None
    source: Path | None = None


@dataclass
class ProjectSpec:
    board: Board
    runtime: str  # "aot" or "tflm"
    files: list[GeneratedFile]
    include_dirs: list[str] = field(default_factory=list)  # relative to src/, or absolute
    defines: dict[str, str] = field(default_factory=dict)
    build_flags: list[str] = field(default_factory=list)
    lib_deps: list[str] = field(default_factory=list)  # tflm: the TFLite Micro library
    model_sha256: str = ""


def write_project(spec: ProjectSpec, out_dir: Path) -> Path:
    """Render out_dir/platformio.ini and out_dir/src/ (runtime files + harness + board platform files).

    Returns out_dir.  Idempotent: rewriting the same spec leaves file mtimes alone where the content is
    unchanged, so PlatformIO rebuilds only what changed.
    """
    raise NotImplementedError  # implemented by the foundation work (issue 2)
