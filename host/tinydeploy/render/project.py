"""Write a PlatformIO project for one board around a runtime's generated sources.

The runtime renderers (render/aot.py, render/tflm.py) produce only what is specific to the model and the
runtime; this module adds what is specific to the board (platformio.ini environment, platform sources,
linker script, the device harness) so that board knowledge stays in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tinydeploy.boards import Board
from tinydeploy.build.defines import board_defines
from tinydeploy.files import write_if_changed
from tinydeploy.build.provision import PLATFORM_NAME, pio_platform
from tinydeploy.errors import UserError
from tinydeploy.paths import firmware_dir, templates_dir


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
    harness: bool = True  # include firmware/harness/ (False for stand-alone firmware such as firmware/app/)


# Source files copied from firmware/ into a project (everything else there, e.g. notes, stays out).
SOURCE_SUFFIXES = (".c", ".h", ".cpp", ".hpp", ".S", ".s", ".ld", ".inc")
FILE_LIST = ".tinydeploy-files"  # what the last write_project put here, to remove files that left the spec


def write_project(spec: ProjectSpec, out_dir: Path) -> Path:
    """Render out_dir/platformio.ini and out_dir/src/ (runtime files + harness + board platform files).

    Returns out_dir.  Idempotent: rewriting the same spec leaves file mtimes alone where the content is
    unchanged, so PlatformIO rebuilds only what changed.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    wanted: dict[str, bytes] = {}  # path relative to out_dir -> content
    for rel, data in _firmware_files(spec.board, harness=spec.harness):
        wanted[rel] = data
    for generated in spec.files:
        wanted[f"src/{generated.path}"] = _content_of(generated)
    wanted["platformio.ini"] = render_platformio_ini(spec).encode("utf-8")

    for rel, data in wanted.items():
        write_if_changed(out_dir / rel, data)
    _remove_stale(out_dir, set(wanted))
    write_if_changed(out_dir / FILE_LIST, "".join(f"{rel}\n" for rel in sorted(wanted)))
    return out_dir


def render_platformio_ini(spec: ProjectSpec) -> str:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    env = Environment(
        loader=FileSystemLoader(str(templates_dir() / "project")),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    return env.get_template("platformio.ini.j2").render(
        board=spec.board,
        platform=pio_platform(spec.board),
        runtime=spec.runtime,
        model_sha256=spec.model_sha256,
        build_flags=project_build_flags(spec),
        lib_deps=spec.lib_deps,
    )


def project_build_flags(spec: ProjectSpec) -> list[str]:
    """build_flags for the project's environment: include dirs, defines, the spec's own flags.

    The tinydeploy dev-platform derives CPU flags and board defines from the board manifest itself;
    upstream platforms (real boards) get the board's defines here, the only place they can come from.
    """
    board = spec.board
    flags = ["-I src/harness"] if spec.harness else []
    if board.firmware_platform:
        flags.append("-I src/platform")
    for inc in spec.include_dirs:
        flags.append(f"-I {inc}" if Path(inc).is_absolute() else f"-I src/{inc}")
    defines = dict(spec.defines)
    if pio_platform(board) != PLATFORM_NAME:
        flags.extend(board.platformio.build_flags)
        defines = {**board_defines(board), **defines}
    flags.extend(_define_flag(k, v) for k, v in defines.items())
    flags.extend(spec.build_flags)
    return flags


def _define_flag(name: str, value: str) -> str:
    if value == "":
        return f"-D{name}"
    flag = f"-D{name}={value}"
    # PlatformIO splits build_flags like a shell: quote values holding quotes or blanks.
    return f"'{flag}'" if any(c in value for c in " \"'") else flag


def _firmware_files(board: Board, *, harness: bool = True) -> list[tuple[str, bytes]]:
    """(project-relative path, content) for firmware/include, the harness and the board's platform code."""
    firmware = firmware_dir()
    sources = [("include", firmware / "include")]
    if harness:
        sources.append(("src/harness", firmware / "harness"))
    if board.firmware_platform:
        platform_src = firmware / "platform" / board.firmware_platform
        if not platform_src.is_dir():
            raise UserError(
                f"board {board.id} names firmware_platform '{board.firmware_platform}' but "
                f"{platform_src} does not exist",
                hint=f"fix firmware_platform in {board.source} or add the platform code",
            )
        sources.append(("src/platform", platform_src))
    files = []
    for dest, src_dir in sources:
        if not src_dir.is_dir():
            continue
        for path in sorted(src_dir.rglob("*")):
            if path.is_file() and path.suffix in SOURCE_SUFFIXES:
                files.append((f"{dest}/{path.relative_to(src_dir).as_posix()}", path.read_bytes()))
    return files


def _content_of(generated: GeneratedFile) -> bytes:
    if generated.content is not None:
        return generated.content.encode("utf-8")
    if generated.source is not None:
        return Path(generated.source).read_bytes()
    raise UserError(f"generated file {generated.path} has neither content nor a source file")


def _remove_stale(out_dir: Path, wanted: set[str]) -> None:
    """Remove files the previous write_project wrote that this spec no longer has (never anything else)."""
    listing = out_dir / FILE_LIST
    if not listing.is_file():
        return
    for rel in listing.read_text(encoding="utf-8").split():
        if rel not in wanted and (out_dir / rel).is_file():
            (out_dir / rel).unlink()
