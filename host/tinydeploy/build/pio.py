"""Every PlatformIO call goes through here: the right PlatformIO home, an offline-safe environment, a timeout.

Emulated and native boards build in the project's provisioned home (see provision.py).  Real boards use
upstream platforms (nordicnrf52, ststm32, raspberrypi): if the user's own PlatformIO home already has the
platform we build there (nobody wants to download a platform twice), otherwise we install it into ours when
the registry is reachable, and fail fast with the install command when it is not.

Also a command line: `python -m tinydeploy.build.pio run -e qemu-m4 [-t upload]` runs pio with the project's
home (the Makefile's `make pio ARGS=...` and scripts/pio call this).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from tinydeploy.boards import Board
from tinydeploy.build.provision import PLATFORM_NAME, pio_home, pio_platform, provision
from tinydeploy.errors import ToolMissingError, UserError
from tinydeploy.procs import kill_group

REGISTRY_HOSTS = (("api.registry.platformio.org", 443), ("dl.registry.platformio.org", 443))
PROBE_TIMEOUT_S = 3.0
INSTALL_TIMEOUT_S = 1200.0


@dataclass
class BuildResult:
    project_dir: Path
    env: str
    elf: Path
    bin: Path | None  # raw image (.bin), or .hex/.uf2 when that is what the platform produces
    flash_bytes: int  # text + data (what goes into flash)
    ram_bytes: int  # data + bss (static RAM, stack/heap sections included when the linker script has them)
    log: Path  # the full build output


# ---------------------------------------------------------------------------------------- environment
def user_pio_home() -> Path:
    """The user's own PlatformIO home (PLATFORMIO_CORE_DIR as set outside tinydeploy, or ~/.platformio)."""
    env = os.environ.get("TINYDEPLOY_USER_PIO_HOME") or os.environ.get("PLATFORMIO_CORE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".platformio"


def installed_platforms(home: Path) -> set[str]:
    """Names of the dev-platforms installed in a PlatformIO home (directories or .pio-link files)."""
    names: set[str] = set()
    platforms = home / "platforms"
    if not platforms.is_dir():
        return names
    for entry in platforms.iterdir():
        if entry.name.endswith(".pio-link"):
            names.add(entry.name[: -len(".pio-link")])
            continue
        manifest = entry / "platform.json"
        if manifest.is_file():
            try:
                names.add(json.loads(manifest.read_text(encoding="utf-8")).get("name", entry.name))
            except ValueError:
                continue
    return names


def home_for(board: Board | None) -> Path:
    """Which PlatformIO home builds this board."""
    if board is None or pio_platform(board) == PLATFORM_NAME:
        return pio_home()
    user_home = user_pio_home()
    if user_home.resolve() != pio_home().resolve() and pio_platform(board) in installed_platforms(user_home):
        return user_home
    return pio_home()


def pio_env(board: Board | None = None) -> dict[str, str]:
    """The environment every pio subprocess gets: its home, no telemetry, no upgrade checks, no prompts."""
    env = dict(os.environ)
    env.update(
        PLATFORMIO_CORE_DIR=str(home_for(board)),
        # maintenance.on_cmd_end() skips the weekly upgrade check (network) when this is "true".
        PLATFORMIO_DISABLE_UPGRADE_CHECK="true",
        # app.get_setting() reads PLATFORMIO_SETTING_<NAME> before appstate.json.
        PLATFORMIO_SETTING_ENABLE_TELEMETRY="no",
        PLATFORMIO_SETTING_CHECK_PLATFORMIO_INTERVAL="3650",
        PLATFORMIO_SETTING_CHECK_PRUNE_SYSTEM_THRESHOLD="0",
        PLATFORMIO_SETTING_DISABLE_UDEV_RULES_CHECK="yes",
        PLATFORMIO_DISABLE_PROGRESSBAR="true",
        PLATFORMIO_RUN_JOBS=os.environ.get("PLATFORMIO_RUN_JOBS", "2"),
        PYTHONUNBUFFERED="1",
    )
    # pio, the builder (scons runs on this interpreter) and the toolchain must come from this environment.
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    return env


def pio_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "platformio", *args]


def run_pio(
    args: list[str],
    *,
    board: Board | None = None,
    cwd: Path | None = None,
    timeout: float = 600,
    capture: bool = True,
) -> subprocess.CompletedProcess:
    """Run `pio <args>` with pio_env(board); kills the whole process group on timeout (UserError)."""
    proc = subprocess.Popen(
        pio_argv(*args),
        cwd=cwd,
        env=pio_env(board),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE if capture else None,
        stderr=subprocess.STDOUT if capture else None,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as err:
        kill_group(proc)
        raise UserError(
            f"`pio {' '.join(args)}` did not finish within {timeout:g} s and was stopped",
            hint="rerun it by hand with `make pio ARGS=\"...\"` to see where it hangs",
        ) from err
    return subprocess.CompletedProcess(proc.args, proc.returncode, out or "", "")



# -------------------------------------------------------------------------------------- platforms
def registry_reachable(timeout: float = PROBE_TIMEOUT_S) -> bool:
    """A TCP connect to the PlatformIO registry, DNS included, bounded by `timeout` seconds."""
    result: list[bool] = []

    def probe() -> None:
        for host, port in REGISTRY_HOSTS:
            try:
                with socket.create_connection((host, port), timeout=timeout):
                    result.append(True)
                    return
            except OSError:
                continue
        result.append(False)

    thread = threading.Thread(target=probe, daemon=True)  # getaddrinfo ignores socket timeouts
    thread.start()
    thread.join(timeout * len(REGISTRY_HOSTS) + 1)
    return bool(result and result[0])


def install_hint(board: Board) -> str:
    return (
        f"on a machine with internet access run `pio pkg install -g -p {board.platformio.platform}` "
        f"(into ~/.platformio, which tinydeploy uses when it has the platform), or point "
        f"PLATFORMIO_CORE_DIR at a PlatformIO home that has it"
    )


def ensure_platform(board: Board) -> Path:
    """Make sure the board's PlatformIO platform is installed; returns the PlatformIO home to build in.

    Emulated/native boards: provision our home (offline, fast).  Real boards: use an existing install, or
    install into our home when the registry answers; otherwise a ToolMissingError naming the platform, fast.
    """
    if pio_platform(board) == PLATFORM_NAME:
        provision(need_arm=not board.is_native)
        return pio_home()
    home = home_for(board)
    if board.platformio.platform in installed_platforms(home):
        return home
    provision(need_arm=False)  # our home must not trip the offline pitfalls before installing into it
    if not registry_reachable():
        raise ToolMissingError(
            f"board {board.id} needs the PlatformIO platform '{board.platformio.platform}', which is not "
            f"installed (looked in {user_pio_home()} and {pio_home()}) and the PlatformIO registry is unreachable",
            hint=install_hint(board),
        )
    result = run_pio(["pkg", "install", "-g", "-p", board.platformio.platform], board=board, timeout=INSTALL_TIMEOUT_S)
    if result.returncode != 0:
        raise ToolMissingError(
            f"installing the PlatformIO platform '{board.platformio.platform}' for board {board.id} failed:\n"
            + _first_lines(result.stdout, 8),
            hint=install_hint(board),
        )
    return home_for(board)


# --------------------------------------------------------------------------------------------- build
_ERROR_LINE = re.compile(r"(error|Error|undefined reference|No such file|multiple definition|overflowed)")


def _first_lines(text: str, n: int) -> str:
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    return "\n".join(lines[:n])


def first_error_lines(log: str, n: int = 12) -> str:
    """The compiler's first error lines (and what precedes them), for the one-message UserError."""
    lines = log.splitlines()
    for i, line in enumerate(lines):
        if _ERROR_LINE.search(line):
            return "\n".join(lines[max(0, i - 2) : i + n])
    return "\n".join(lines[-n:])


def build_project(project_dir: Path, board: Board, *, timeout: float = 600, env_name: str | None = None) -> BuildResult:
    """`pio run -e <board.id>` in project_dir; returns the ELF, the image and the flash/RAM used."""
    project_dir = Path(project_dir).resolve()
    if not (project_dir / "platformio.ini").is_file():
        raise UserError(f"{project_dir} has no platformio.ini", hint="render a project first (deploy render)")
    ensure_platform(board)
    env_name = env_name or board.id
    result = run_pio(["run", "-d", str(project_dir), "-e", env_name], board=board, timeout=timeout)
    build_dir = project_build_dir(project_dir) / env_name
    build_dir.mkdir(parents=True, exist_ok=True)
    log = build_dir / "tinydeploy-build.log"
    log.write_text(result.stdout, encoding="utf-8")
    if result.returncode != 0:
        raise UserError(
            f"build of {project_dir} for board {board.id} failed:\n{first_error_lines(result.stdout)}",
            hint=f"full log: {log}",
        )
    elf = build_dir / "firmware.elf"
    if not elf.is_file():
        raise UserError(f"build of {project_dir} for board {board.id} produced no {elf.name}", hint=f"full log: {log}")
    image = next((build_dir / f"firmware{ext}" for ext in (".bin", ".hex", ".uf2") if (build_dir / f"firmware{ext}").is_file()), None)
    flash, ram = elf_size(elf, board)
    return BuildResult(project_dir=project_dir, env=env_name, elf=elf, bin=image, flash_bytes=flash, ram_bytes=ram, log=log)


def project_build_dir(project_dir: Path) -> Path:
    """Where `pio run` puts a project's builds: build_dir as PlatformIO resolves it (PLATFORMIO_BUILD_DIR,
    the ini's [platformio] build_dir, else <project>/.pio/build)."""
    from platformio import fs
    from platformio.project.config import ProjectConfig

    with fs.cd(str(project_dir)):
        config = ProjectConfig(str(project_dir / "platformio.ini"), parse_extra=False)
        return Path(config.get("platformio", "build_dir")).resolve()


def size_tool(board: Board) -> str:
    return "size" if board.is_native else "arm-none-eabi-size"


def elf_size(elf: Path, board: Board) -> tuple[int, int]:
    """(flash, RAM) bytes from the Berkeley output of the size tool: text+data, data+bss."""
    out = subprocess.run([size_tool(board), "-B", "-d", str(elf)], capture_output=True, text=True, timeout=30, check=False)
    if out.returncode != 0:
        raise ToolMissingError(f"{size_tool(board)} failed on {elf}: {out.stderr.strip()}")
    text, data, bss = (int(v) for v in out.stdout.splitlines()[1].split()[:3])
    return text + data, data + bss


# ---------------------------------------------------------------------------------------------- CLI
def main(argv: list[str] | None = None) -> int:
    """`python -m tinydeploy.build.pio <pio args>`: pio with the project's provisioned home."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--"]:
        args = args[1:]
    timeout = float(os.environ.get("TINYDEPLOY_PIO_TIMEOUT", "1800"))
    try:
        provision()
        proc = subprocess.Popen(pio_argv(*args), env=pio_env())
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise UserError(f"`pio {' '.join(args)}` did not finish within {timeout:g} s and was stopped",
                            hint="raise TINYDEPLOY_PIO_TIMEOUT if it legitimately needs longer")
        except KeyboardInterrupt:
            proc.wait(timeout=30)
            return 130
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code


if __name__ == "__main__":
    sys.exit(main())
