"""Provision the project's own PlatformIO home so that emulated and native builds work fully offline.

PlatformIO's registry and GitHub are out of reach, so everything PlatformIO would download is assembled
locally from what the machine already has:

  <cache>/pio-home/                         (PLATFORMIO_CORE_DIR for emulated and native boards)
    appstate.json                           names this PlatformIO's version: a mismatch makes every pio
                                            command try to "upgrade" core packages over the network
    packages/tool-scons/                    PyPI's SCons (installed in the venv), packaged the way
                                            platformio/package/manager/core.py looks it up
    packages/toolchain-gccarmnoneeabi/      bin/ links to Debian's /usr/bin/arm-none-eabi-*
    platforms/tinydeploy.pio-link           a link to the dev-platform kept in this repo (platformio/)
    boards/<id>.json                        board manifests generated from boards/*.toml

Idempotent and quick when done: files are rewritten only when their content changes.
Run it as `python -m tinydeploy.build.provision`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tinydeploy.boards import Board, all_boards
from tinydeploy.build.defines import board_defines
from tinydeploy.files import symlink_if_changed, write_if_changed
from tinydeploy.errors import ToolMissingError
from tinydeploy.paths import cache_dir, repo_root

PLATFORM_NAME = "tinydeploy"
TOOLCHAIN_PACKAGE = "toolchain-gccarmnoneeabi"
SCONS_PACKAGE = "tool-scons"
ARM_GCC = "arm-none-eabi-gcc"


def pio_home() -> Path:
    """The project's PlatformIO home (PLATFORMIO_CORE_DIR for emulated and native boards)."""
    return cache_dir() / "pio-home"


def platform_dir() -> Path:
    """The in-repo dev-platform for the emulated boards and native."""
    return repo_root() / "platformio"


@dataclass
class ProvisionReport:
    home: Path
    changed: list[str]  # files written this time (empty when everything was already in place)
    boards: list[str]  # PlatformIO board ids generated from boards/*.toml
    seconds: float


# ------------------------------------------------------------------------------------------ file helpers
def dumps(data: dict) -> str:
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def package_meta(kind: str, name: str, version: str, owner: str | None = "platformio") -> str:
    """The .piopm file PlatformIO keeps next to an installed package (spec owner/name and version)."""
    spec = {"owner": owner, "id": None, "name": name, "requirements": None, "uri": None}
    return dumps({"type": kind, "name": name, "version": version, "spec": spec})


# ------------------------------------------------------------------------------------------- appstate
def provision_appstate(home: Path, changed: list[str]) -> None:
    """Pin appstate.json to this PlatformIO's version and mark the periodic checks as just done."""
    import platformio

    path = home / "appstate.json"
    try:
        state = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except ValueError:
        state = {}
    wanted_version = platformio.__version__
    last_check = state.get("last_check") or {}
    needs_write = (
        state.get("last_version") != wanted_version
        or not last_check.get("platformio_upgrade")
        or not last_check.get("prune_system")
    )
    if not needs_write:
        return
    now = int(time.time())
    state["last_version"] = wanted_version
    state.setdefault("created_at", now)
    last_check.setdefault("platformio_upgrade", now)
    last_check.setdefault("prune_system", now)
    state["last_check"] = last_check
    write_if_changed(path, json.dumps(state), changed)


# ------------------------------------------------------------------------------------------- tool-scons
def scons_package_version(scons_version: str) -> str:
    """PlatformIO numbers tool-scons as 4.<minor:02><patch:02>.0 (SCons 4.11.1 -> 4.41101.0)."""
    match = re.match(r"^(\d+)\.(\d+)\.(\d+)", scons_version)
    if not match:
        raise ToolMissingError(f"cannot read the SCons version '{scons_version}'")
    major, minor, patch = (int(g) for g in match.groups())
    return f"{major}.{major}{minor:02d}{patch:02d}.0"


def provision_scons(home: Path, changed: list[str]) -> None:
    try:
        import SCons
    except ImportError as err:
        raise ToolMissingError(
            "SCons is not installed in this Python environment", hint="pip install 'scons~=4.11.0'"
        ) from err
    from platformio.dependencies import get_core_dependencies
    from platformio.package.version import cast_version_to_semver
    import semantic_version

    version = scons_package_version(SCons.__version__)
    requirement = get_core_dependencies()[SCONS_PACKAGE]
    if cast_version_to_semver(version) not in semantic_version.SimpleSpec(requirement):
        raise ToolMissingError(
            f"PlatformIO wants tool-scons {requirement} but the installed SCons is {SCons.__version__}",
            hint="install the matching SCons: pip install 'scons~=4.11.0' (then rerun provisioning)",
        )
    pkg = home / "packages" / SCONS_PACKAGE
    scons_parent = Path(SCons.__file__).resolve().parent.parent
    manifest = {
        "name": SCONS_PACKAGE,
        "version": version,
        "description": f"SCons {SCons.__version__} from PyPI (packaged offline by tinydeploy)",
    }
    write_if_changed(pkg / "package.json", dumps(manifest), changed)
    write_if_changed(pkg / ".piopm", package_meta("tool", SCONS_PACKAGE, version), changed)
    # PlatformIO runs `<python> <pkg>/scons.py ...`; the entry point finds SCons where pip installed it.
    entry = (
        "# Generated by tinydeploy.build.provision: run the SCons that pip installed.\n"
        "import sys\n"
        f"sys.path.insert(0, {str(scons_parent)!r})\n"
        "from SCons.Script.Main import main\n"
        "if __name__ == '__main__':\n"
        "    sys.exit(main())\n"
    )
    write_if_changed(pkg / "scons.py", entry, changed)


# -------------------------------------------------------------------------------------------- toolchain
def arm_gcc_version() -> str:
    gcc = shutil.which(ARM_GCC)
    if not gcc:
        raise ToolMissingError(
            f"{ARM_GCC} is not installed",
            hint="sudo apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib",
        )
    out = subprocess.run([gcc, "-dumpfullversion"], capture_output=True, text=True, timeout=30, check=False)
    return out.stdout.strip() or "0.0.0"


def toolchain_package_version(gcc_version: str) -> str:
    """PlatformIO numbers this toolchain 1.<major:02><minor:02><patch:02>.0 (GCC 12.2.1 -> 1.120201.0)."""
    parts = [int(p) for p in re.findall(r"\d+", gcc_version)[:3]] + [0, 0, 0]
    return f"1.{parts[0]:d}{parts[1]:02d}{parts[2]:02d}.0"


def provision_toolchain(home: Path, changed: list[str]) -> None:
    gcc = Path(shutil.which(ARM_GCC) or "")
    version = toolchain_package_version(arm_gcc_version())
    pkg = home / "packages" / TOOLCHAIN_PACKAGE
    manifest = {
        "name": TOOLCHAIN_PACKAGE,
        "version": version,
        "description": f"links to the system's GNU Arm toolchain in {gcc.parent} (packaged by tinydeploy)",
    }
    write_if_changed(pkg / "package.json", dumps(manifest), changed)
    write_if_changed(pkg / ".piopm", package_meta("tool", TOOLCHAIN_PACKAGE, version), changed)
    wanted = {tool.name: tool for tool in sorted(gcc.parent.glob("arm-none-eabi-*"))}
    bin_dir = pkg / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for stale in bin_dir.iterdir():
        if stale.name not in wanted:
            stale.unlink()
            changed.append(str(stale))
    for name, target in wanted.items():
        symlink_if_changed(bin_dir / name, target, changed)


# ------------------------------------------------------------------------------------- platform, boards
def provision_platform(home: Path, changed: list[str]) -> None:
    """Link the in-repo dev-platform (edits take effect without reprovisioning)."""
    source = platform_dir()
    link = {
        "cwd": str(source),
        "spec": {"owner": None, "id": None, "name": PLATFORM_NAME, "requirements": None,
                 "uri": f"symlink://{source}"},
    }
    write_if_changed(home / "platforms" / f"{PLATFORM_NAME}.pio-link", dumps(link), changed)


def board_manifest(board: Board, ldscript: Path | None = None) -> dict:
    """The PlatformIO board manifest for one of our boards, every fact taken from its board file."""
    build: dict = {
        "cpu": board.cpu,
        "mcu": board.id,
        "f_cpu": f"{board.clock_hz}L",
        "cpu_flags": list(board.platformio.build_flags),
        "tinydeploy_id": board.id,
        "firmware_platform": board.firmware_platform,
        "native": board.is_native,
        "defines": board_defines(board),
    }
    if ldscript is not None:
        build["ldscript"] = str(ldscript)
    upload: dict = {
        "maximum_size": board.flash_bytes,
        "maximum_ram_size": board.ram_bytes,
        "protocol": board.platformio.upload_protocol or ("qemu" if board.qemu else "native"),
    }
    if board.qemu:
        upload["qemu_machine"] = board.qemu.machine
        upload["qemu_cpu"] = board.qemu.cpu
    return {
        "name": board.name,
        "vendor": "tinydeploy",
        "url": f"file://{board.source}" if board.source else "",
        "frameworks": [],
        "build": build,
        "upload": upload,
        "tinydeploy": {"board_file": str(board.source or ""), "kind": board.kind},
    }


def pio_platform(board: Board) -> str:
    """The PlatformIO platform that builds this board.

    The native board is ours too: PlatformIO's upstream `native` platform comes from the registry, while
    the tinydeploy dev-platform builds host executables offline with the host's gcc.
    """
    if board.is_native:
        return PLATFORM_NAME
    return board.platformio.platform


def own_boards() -> list[Board]:
    """The boards the in-repo dev-platform builds (emulated and native)."""
    return [b for b in all_boards() if pio_platform(b) == PLATFORM_NAME]


def render_ldscript(board: Board, path: Path, changed: list[str]) -> Path | None:
    """The board's linker script, rendered by the firmware platform code from the board file."""
    if board.qemu is None:
        return None
    from tinydeploy.flash.firmware import render_linker_script

    # Render to a file of our own, then install it atomically: provisioning may run in parallel (tests).
    scratch = path.with_name(f".{path.name}.render{os.getpid()}")
    try:
        if render_linker_script(board, scratch) is None:
            return None
        write_if_changed(path, scratch.read_text(encoding="utf-8"), changed)
    finally:
        scratch.unlink(missing_ok=True)
    return path


def provision_boards(home: Path, changed: list[str]) -> list[str]:
    boards_out = home / "boards"
    boards_out.mkdir(parents=True, exist_ok=True)
    written = []
    for board in own_boards():
        ldscript = render_ldscript(board, boards_out / f"{board.platformio.board}.ld", changed)
        manifest = board_manifest(board, ldscript)
        write_if_changed(boards_out / f"{board.platformio.board}.json", dumps(manifest), changed)
        written.append(board.platformio.board)
    for stale in [*boards_out.glob("*.json"), *boards_out.glob("*.ld")]:  # a board file was removed or renamed
        if stale.stem not in written:
            stale.unlink()
            changed.append(str(stale))
    return written


# ----------------------------------------------------------------------------------------------- entry
def provision(*, need_arm: bool = True) -> ProvisionReport:
    """Make the project's PlatformIO home complete; returns what changed (nothing on a warm run)."""
    started = time.monotonic()
    home = pio_home()
    home.mkdir(parents=True, exist_ok=True)
    changed: list[str] = []
    provision_appstate(home, changed)
    provision_scons(home, changed)
    if need_arm or shutil.which(ARM_GCC):
        provision_toolchain(home, changed)
    provision_platform(home, changed)
    boards = provision_boards(home, changed)
    return ProvisionReport(home=home, changed=changed, boards=boards, seconds=time.monotonic() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tinydeploy.build.provision", description=__doc__.splitlines()[0])
    parser.add_argument("-q", "--quiet", action="store_true")
    args = parser.parse_args(argv)
    try:
        report = provision()
    except ToolMissingError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    if not args.quiet:
        state = f"{len(report.changed)} file(s) updated" if report.changed else "already up to date"
        print(f"PlatformIO home {report.home}: {state} ({report.seconds:.2f} s); boards: {', '.join(report.boards) or '-'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
