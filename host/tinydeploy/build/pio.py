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
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from tinydeploy.boards import Board
from tinydeploy.build.provision import PLATFORM_NAME, pio_home, pio_platform, provision
from tinydeploy.errors import ToolMissingError, UserError
from tinydeploy.procs import owned_group, signals_as_interrupts, spawn_group

REGISTRY_HOSTS = (("api.registry.platformio.org", 443), ("dl.registry.platformio.org", 443))
PROBE_TIMEOUT_S = 3.0
INSTALL_TIMEOUT_S = 1200.0
# A clean build of the TFLM Arduino library takes ~700 s on a 2-core machine: room for that twice.
DEFAULT_BUILD_TIMEOUT_S = 1800.0


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


class PioTimeout(UserError):
    """`pio` ran past its deadline and was stopped; `output` is what it printed until then."""

    def __init__(self, message: str, *, hint: str = "", output: str = "") -> None:
        super().__init__(message, hint=hint)
        self.output = output


def run_pio(
    args: list[str],
    *,
    board: Board | None = None,
    cwd: Path | None = None,
    timeout: float = 600,
    capture: bool = True,
    progress: "BuildProgress | None" = None,
) -> subprocess.CompletedProcess:
    """Run `pio <args>` with pio_env(board) in its own process group.

    However the call ends -- timeout (PioTimeout), Ctrl-C, SIGTERM/SIGHUP (raised as KeyboardInterrupt by
    procs.signals_as_interrupts) or an error of ours -- the whole group (pio, scons, the compilers) is
    stopped before this returns or raises: nothing is left running.  With `progress`, each output line is
    shown to it as it arrives."""
    popen: dict = dict(cwd=cwd, env=pio_env(board), stdin=subprocess.DEVNULL)
    if capture:
        popen.update(stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
    lines: list[str] = []
    with signals_as_interrupts(), owned_group(spawn_group(pio_argv(*args), **popen)) as proc:
        reader = None
        if capture:
            reader = threading.Thread(target=_collect, args=(proc, lines, progress), daemon=True)
            reader.start()
        if not _wait(proc, timeout, progress):
            raise PioTimeout(f"`pio {' '.join(args)}` did not finish within {timeout:g} s and was stopped",
                             hint="rerun it by hand with `make pio ARGS=\"...\"` to see where it stops",
                             output="".join(lines))
        if reader is not None:
            reader.join(10)
    if progress is not None:
        progress.done()
    return subprocess.CompletedProcess(proc.args, proc.returncode, "".join(lines), "")


def _collect(proc: subprocess.Popen, lines: list[str], progress: "BuildProgress | None") -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if progress is not None:
            progress.saw(line)


def _wait(proc: subprocess.Popen, timeout: float, progress: "BuildProgress | None") -> bool:
    """Wait for proc until `timeout` seconds have passed (False then), ticking the progress line."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        try:
            proc.wait(min(left, 1.0))
            return True
        except subprocess.TimeoutExpired:
            if progress is not None:
                progress.tick()


class BuildProgress:
    """One status line while PlatformIO builds: elapsed time, files compiled, what is compiling now.

    On a terminal the line is redrawn in place every second (on stderr); elsewhere (CI logs, pipes) a line
    is printed every `every` seconds, so a long TFLM build is visibly alive, not hung."""

    _STEP = re.compile(r"^(Compiling|Archiving|Linking|Indexing|Building)\s+(\S+)")

    def __init__(self, what: str, *, every: float = 60.0, stream=None) -> None:
        self.what = what
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.every = 1.0 if self.tty else every
        self.started = time.monotonic()
        self.last_shown = self.started
        self.compiled = 0
        self.current = ""
        self.shown_any = False

    def saw(self, line: str) -> None:
        match = self._STEP.match(line)
        if match:
            self.compiled += match.group(1) == "Compiling"
            self.current = f"{match.group(1).lower()} {_short_object(match.group(2))}"

    def line(self) -> str:
        elapsed = int(time.monotonic() - self.started)
        text = f"building {self.what}: {elapsed // 60}m{elapsed % 60:02d}s, {self.compiled} files compiled"
        return text + (f", {self.current}" if self.current else "")

    def tick(self) -> None:
        now = time.monotonic()
        if now - self.last_shown < self.every:
            return
        self.last_shown = now
        self.shown_any = True
        if self.tty:
            width = shutil.get_terminal_size((100, 20)).columns - 1
            self.stream.write("\r" + self.line()[:width].ljust(width))
        else:
            self.stream.write(self.line() + "\n")
        self.stream.flush()

    def done(self) -> None:
        if self.tty and self.shown_any:
            self.stream.write("\r" + " " * (shutil.get_terminal_size((100, 20)).columns - 1) + "\r")
            self.stream.flush()


def _short_object(path: str) -> str:
    """'.pio/build/qemu-m4/lib5a3/tflite-micro-local/tensorflow/lite/micro/kernels/conv.o' -> the source-ish
    tail 'tensorflow/lite/micro/kernels/conv.o'."""
    parts = Path(path).parts
    for anchor in ("tensorflow", "third_party", "signal", "src"):
        if anchor in parts:
            return "/".join(parts[parts.index(anchor):])
    return "/".join(parts[-3:])


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
# A compiler diagnostic "path:line[:col]: [fatal ]error: ..." -- never a "Compiling .../error_reporter.o" line.
_COMPILER_ERROR = re.compile(r"^\S[^:\n]*:\d+(?::\d+)?: (?:fatal )?error: ")
_COMPILER_CONTEXT = re.compile(r"^(In file included from |\s+from |[^:\n]+: In (?:member )?function )")
_LINKER_ERROR = re.compile(r"(undefined reference to|multiple definition of|region `?\S+?'? overflowed|"
                           r"ld: cannot find|cannot find -l|ld returned \d+ exit status)")
_TOOL_ERROR = re.compile(r"^(Error: |\*\*\* |[A-Za-z]+Error: )")


def _first_lines(text: str, n: int) -> str:
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    return "\n".join(lines[:n])


def first_error_lines(log: str, n: int = 12) -> str:
    """The build's first real error, for the one-message UserError: the first compiler error (with the
    "In file included from" chain before it and its notes after), else the first linker error, else
    PlatformIO's own "Error:" line, else the log's last lines."""
    lines = log.splitlines()
    for i, line in enumerate(lines):
        if _COMPILER_ERROR.match(line):
            start = i
            while start > 0 and _COMPILER_CONTEXT.match(lines[start - 1]):
                start -= 1
            end = i + 1
            while end < len(lines) and end - i < n and not _COMPILER_ERROR.match(lines[end]) \
                    and not _is_build_step(lines[end]):
                end += 1
            return "\n".join(lines[start:end])
    for pattern in (_LINKER_ERROR, _TOOL_ERROR):
        for i, line in enumerate(lines):
            if pattern.search(line):
                start = i - 1 if i > 0 and lines[i - 1].rstrip().endswith(":") else i
                return "\n".join(lines[start: i + min(n, 4)])
    return "\n".join(lines[-n:])


def _is_build_step(line: str) -> bool:
    return bool(BuildProgress._STEP.match(line)) or line.startswith("*** ")


def build_project(project_dir: Path, board: Board, *, timeout: float = DEFAULT_BUILD_TIMEOUT_S,
                  env_name: str | None = None, progress: bool = True) -> BuildResult:
    """`pio run -e <board.id>` in project_dir; returns the ELF, the image and the flash/RAM used.

    Shows a progress line while it builds (see BuildProgress); the full output goes to the build
    directory's tinydeploy-build.log whether the build succeeds, fails or runs out of time."""
    from tinydeploy.build import libcache

    project_dir = Path(project_dir).resolve()
    if not (project_dir / "platformio.ini").is_file():
        raise UserError(f"{project_dir} has no platformio.ini", hint="render a project first (deploy render)")
    ensure_platform(board)
    env_name = env_name or board.id
    build_dir = project_build_dir(project_dir) / env_name
    build_dir.mkdir(parents=True, exist_ok=True)
    log = build_dir / "tinydeploy-build.log"
    libcache.before_build(project_dir)
    meter = BuildProgress(f"{project_dir.name} for {board.id}") if progress else None
    try:
        result = run_pio(["run", "-d", str(project_dir), "-e", env_name], board=board, timeout=timeout,
                         progress=meter)
    except PioTimeout as err:
        log.write_text(err.output, encoding="utf-8")
        raise UserError(
            f"build of {project_dir} for board {board.id} did not finish within {timeout:g} s and was stopped"
            + (f" (it had compiled {meter.compiled} files)" if meter else ""),
            hint=f"a clean build of TFLite Micro takes ~12 minutes on 2 cores and is cached afterwards: give it "
                 f"more time with --build-timeout SECONDS; the output so far: {log}") from None
    log.write_text(result.stdout, encoding="utf-8")
    if result.returncode != 0:
        raise UserError(
            f"build of {project_dir} for board {board.id} failed:\n{first_error_lines(result.stdout)}",
            hint=f"full log: {log}",
        )
    elf = build_dir / "firmware.elf"
    if not elf.is_file():
        raise UserError(f"build of {project_dir} for board {board.id} produced no {elf.name}", hint=f"full log: {log}")
    libcache.after_build(project_dir, build_dir)
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
        # pio stays in our process group here, in the terminal's foreground: it may read the terminal (an
        # interactive QEMU upload), and a Ctrl-C reaches it as well as us.
        proc = subprocess.Popen(pio_argv(*args), env=pio_env())
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise UserError(f"`pio {' '.join(args)}` did not finish within {timeout:g} s and was stopped",
                            hint="raise TINYDEPLOY_PIO_TIMEOUT if it legitimately needs longer") from None
        except KeyboardInterrupt:
            try:
                proc.wait(timeout=30)  # it got the Ctrl-C too: let it finish cleanly, within bounds
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            return 130
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code


if __name__ == "__main__":
    sys.exit(main())
