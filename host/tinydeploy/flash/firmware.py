"""Direct-compiler firmware builds: the board's platform sources plus yours, into one ELF, in seconds.

This is the fast path tests and the aot/link work use; the PlatformIO route (build/provision.py and
platformio/builder/) builds from the same pieces, which this module is the one place to ask for:

    platform_sources(board)      the C files of firmware/platform/<family>/
    platform_include_dirs(board) firmware/include and the platform directory
    platform_defines(board)      TD_BOARD_ID, TD_UART_BASE, ... taken from the board file
    render_linker_script(board, path)   the linker script rendered from the board file's [qemu] map
    arch_flags(board)            the board file's [platformio] build_flags

`compile_firmware()` puts them together with arm-none-eabi-gcc (or the host gcc for the native board).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import jinja2

from tinydeploy.boards import Board, get_board
from tinydeploy.errors import ToolMissingError, UserError
from tinydeploy.files import write_if_changed
from tinydeploy.paths import firmware_dir, templates_dir

ARM_GCC = "arm-none-eabi-gcc"
ARM_GXX = "arm-none-eabi-g++"
ARM_SIZE = "arm-none-eabi-size"
HOST_GCC = "gcc"
HOST_GXX = "g++"

DEFAULT_STACK_BYTES = 64 * 1024  # the main stack at the top of RAM on the QEMU machines
COMPILE_TIMEOUT_S = 300

# Where each QEMU machine reads the initial SP and PC at reset: the CPU's (Secure) VTOR reset value.  A
# fact of QEMU's machine model rather than of a board file; checked with QEMU 7.2.
_QEMU_BOOT_ADDRESS = {"mps2-an505": 0x10000000, "mps3-an547": 0x10000000}
_CXX_SUFFIXES = {".cc", ".cpp", ".cxx"}
_WARNINGS = ["-Wall", "-Wextra"]
_COMMON_FLAGS = ["-ffunction-sections", "-fdata-sections", "-g"]
_CXX_FLAGS = ["-fno-exceptions", "-fno-rtti", "-fno-threadsafe-statics"]


class FirmwareBuildError(UserError):
    """The compiler or linker rejected the firmware; the message carries its diagnostics."""


@dataclass(frozen=True)
class FirmwareSize:
    flash_bytes: int  # text + rodata + initialised data image
    ram_bytes: int  # data + bss (the stack and heap reserve come on top)
    stack_bytes: int  # reserved main stack (0 on native)


# ---------------------------------------------------------------------------------------------------
# Boards


def resolve_board(board: Board | str) -> Board:
    """A Board from a Board or a board name/alias (boards.get_board)."""
    return board if isinstance(board, Board) else get_board(board)


# ---------------------------------------------------------------------------------------------------
# What a board's firmware is made of


def platform_dir(board: Board) -> Path:
    if not board.firmware_platform:
        raise UserError(f"board '{board.id}' names no firmware_platform", hint=f"set it in {board.source}")
    path = firmware_dir() / "platform" / board.firmware_platform
    if not path.is_dir():
        raise UserError(
            f"board '{board.id}': firmware platform '{board.firmware_platform}' does not exist",
            hint=f"expected the directory {path}",
        )
    return path


def platform_sources(board: Board) -> list[Path]:
    return sorted(platform_dir(board).glob("*.c"))


def platform_include_dirs(board: Board) -> list[Path]:
    return [firmware_dir() / "include", platform_dir(board)]


def arch_flags(board: Board) -> list[str]:
    return list(board.platformio.build_flags)


def _c_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def platform_defines(board: Board) -> dict[str, str]:
    """Preprocessor defines (name -> C token text; strings include their quotes) the platform needs."""
    defines = {"TD_BOARD_ID": _c_string(board.id), "TD_CLOCK_HZ": f"{board.clock_hz}u"}
    if board.qemu is not None:
        machine = re.sub(r"[^A-Za-z0-9]", "_", board.qemu.machine).upper()
        defines.update(
            {
                f"TD_QEMU_MACHINE_{machine}": "1",
                "TD_SYSCLK_HZ": f"{board.qemu.sysclk_hz}u",
                "TD_UART_BASE": f"0x{board.qemu.uart_base:08X}u",
            }
        )
    return defines


def render_linker_script(board: Board, out_path: Path, *, stack_bytes: int = DEFAULT_STACK_BYTES) -> Path | None:
    """Write the board's linker script to out_path (atomically); None for boards that need none (native)."""
    if board.qemu is None:
        return None
    q = board.qemu
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir() / "firmware"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    text = env.get_template(f"{board.firmware_platform}.ld.j2").render(
        board_id=board.id,
        machine=q.machine,
        boot_origin=_QEMU_BOOT_ADDRESS.get(q.machine, 0),
        flash_origin=q.flash_origin,
        flash_bytes=q.flash_bytes,
        ram_origin=q.ram_origin,
        ram_bytes=q.ram_bytes,
        stack_bytes=stack_bytes,
    )
    write_if_changed(out_path, text)
    return out_path


# ---------------------------------------------------------------------------------------------------
# Building


def _tool(name: str, board: Board) -> str:
    path = shutil.which(name)
    if path is None:
        hint = "apt-get install gcc-arm-none-eabi" if name.startswith("arm-none-eabi") else "install gcc/g++"
        raise ToolMissingError(f"'{name}' is not on PATH (needed to build for board '{board.id}')", hint=hint)
    return path


def _define_flags(defines: Mapping[str, str | int | None]) -> list[str]:
    flags = []
    for name, value in defines.items():
        flags.append(f"-D{name}" if value is None else f"-D{name}={value}")
    return flags


def _run(cmd: list[str], what: str, board: Board) -> None:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=COMPILE_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise FirmwareBuildError(f"{what} for board '{board.id}' took over {COMPILE_TIMEOUT_S} s") from exc
    if proc.returncode != 0:
        diagnostics = (proc.stderr or proc.stdout).strip()
        tail = "\n".join(diagnostics.splitlines()[-40:])
        raise FirmwareBuildError(f"{what} for board '{board.id}' failed:\n{tail}")


def compile_firmware(
    board: Board | str,
    sources: Sequence[Path],
    include_dirs: Iterable[Path] = (),
    out_dir: Path | None = None,
    *,
    defines: Mapping[str, str | int | None] | None = None,
    extra_flags: Sequence[str] = (),
    opt: str = "-O2",
    name: str = "firmware",
    stack_bytes: int = DEFAULT_STACK_BYTES,
) -> Path:
    """Compile `sources` with the board's platform into out_dir/<name>.elf and return its path.

    Writes out_dir/<name>.size.json ({"flash_bytes", "ram_bytes", "stack_bytes"}) and, for Arm boards,
    out_dir/<name>.map.  Sources ending in .cc/.cpp are compiled as C++ (no exceptions, no RTTI).
    Objects are compiled two at a time (the machine is shared).  A compiler error is a FirmwareBuildError
    carrying the diagnostics.
    """
    board = resolve_board(board)
    if out_dir is None:
        raise UserError("compile_firmware needs an out_dir")
    out_dir = Path(out_dir)
    obj_dir = out_dir / f"{name}.obj"
    obj_dir.mkdir(parents=True, exist_ok=True)

    native = board.is_native
    cc = _tool(HOST_GCC if native else ARM_GCC, board)
    all_sources = [Path(s) for s in sources] + platform_sources(board)
    has_cxx = any(s.suffix in _CXX_SUFFIXES for s in all_sources)
    cxx = _tool(HOST_GXX if native else ARM_GXX, board) if has_cxx else None

    includes = [f"-I{p}" for p in [*map(Path, include_dirs), *platform_include_dirs(board)]]
    all_defines = {**platform_defines(board), **(defines or {})}
    base = [opt, *arch_flags(board), *_WARNINGS, *_COMMON_FLAGS, *_define_flags(all_defines), *includes]
    base += list(extra_flags)
    if not native:
        base.append("-fcallgraph-info=su")  # each object's call graph and frames: the stack bound (flash/stack.py)

    def compile_one(index_and_source: tuple[int, Path]) -> Path:
        index, source = index_and_source
        obj = obj_dir / f"{index:03d}_{source.stem}.o"
        if source.suffix in _CXX_SUFFIXES:
            cmd = [cxx, "-std=c++17", *_CXX_FLAGS, *base, "-c", str(source), "-o", str(obj)]
        else:
            cmd = [cc, "-std=gnu99", *base, "-c", str(source), "-o", str(obj)]
        _run(cmd, f"compiling {source}", board)
        return obj

    with ThreadPoolExecutor(max_workers=2) as pool:
        objects = list(pool.map(compile_one, enumerate(all_sources)))

    elf = out_dir / f"{name}.elf"
    tmp_elf = out_dir / f"{name}.elf.tmp"
    linker = cxx or cc
    link = [linker, opt, *arch_flags(board), *objects, "-o", str(tmp_elf), "-Wl,--gc-sections"]
    if native:
        link += ["-lm"]
    else:
        script = render_linker_script(board, out_dir / f"{name}.ld", stack_bytes=stack_bytes)
        link += [
            "-nostartfiles",
            "--specs=nano.specs",
            f"-T{script}",
            f"-Wl,-Map={out_dir / (name + '.map')}",
            "-Wl,--no-warn-rwx-segments",
            "-Wl,--start-group",
            "-lc",
            "-lm",
            "-lgcc",
            *(["-lstdc++_nano"] if has_cxx else []),
            "-Wl,--end-group",
        ]
    link += list(extra_flags)
    _run([str(x) for x in link], "linking", board)
    os.replace(tmp_elf, elf)

    size = firmware_size(elf, board, stack_bytes=0 if native else stack_bytes)
    bound = check_stack_bound(sorted(obj_dir.glob("*.ci")), None if native else stack_bytes, name)
    write_if_changed(out_dir / f"{name}.size.json",
                     json.dumps({**size.__dict__, "stack_bound_bytes": bound}, indent=2) + "\n")
    return elf


def check_stack_bound(ci_files: list[Path], stack_bytes: int | None, what: str) -> int | None:
    """The static stack bound of a build compiled with -fcallgraph-info=su (None without its .ci files or
    when not bounded); a FirmwareBuildError when it exceeds the stack the firmware reserves."""
    from tinydeploy.flash.stack import stack_bound

    if not ci_files:
        return None
    bound = stack_bound(ci_files)
    if bound.bytes is not None and stack_bytes is not None and bound.bytes > stack_bytes:
        raise FirmwareBuildError(f"{what}: the stack may need {bound.bytes} B but {stack_bytes} B are reserved; "
                                 f"deepest calls: {' -> '.join(bound.chain)}")
    return bound.bytes


def firmware_size(elf: Path, board: Board | str, *, stack_bytes: int = DEFAULT_STACK_BYTES) -> FirmwareSize:
    """Flash and RAM bytes of a built ELF, from (arm-none-eabi-)size's Berkeley totals."""
    board = resolve_board(board)
    tool = shutil.which("size") if board.is_native else _tool(ARM_SIZE, board)
    if tool is None:
        raise ToolMissingError("'size' is not on PATH", hint="install binutils")
    out = subprocess.run([tool, "-B", str(elf)], capture_output=True, text=True, timeout=60, check=True).stdout
    text, data, bss = (int(v) for v in out.splitlines()[1].split()[:3])
    return FirmwareSize(flash_bytes=text + data, ram_bytes=data + bss, stack_bytes=stack_bytes)
