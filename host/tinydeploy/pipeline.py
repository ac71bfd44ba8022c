"""The whole flow for one model on one board: prepare -> render -> build -> flash, and the device session.

`deploy build/flash/run/demo` and the pytest plugin all go through here, so there is one way to turn a
model into running firmware:

    fw = build_firmware(Path("model.tflite"), get_board("qemu-m4"), runtime="aot")
    with started_device(fw) as url:              # QEMU / native process / uploaded real board
        with DeviceLink.open(url) as link:
            report = verify_model(link, fw.model_path, inputs, board=fw.board)

Builds are cached per (board, runtime, model sha256) under the project cache; PlatformIO rebuilds only
what changed, so a second run of the same model reuses the firmware.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import signal
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from tinydeploy.boards import Board
from tinydeploy.build.pio import DEFAULT_BUILD_TIMEOUT_S, BuildResult, build_project, first_error_lines, run_pio
from tinydeploy.errors import UserError
from tinydeploy.files import write_atomic
from tinydeploy.flash.lock import board_key, board_lock, check_free
from tinydeploy.model.graph import load_model
from tinydeploy.paths import cache_dir
from tinydeploy.plan.fit import check_fit, confirm_fit, estimate_fit
from tinydeploy.procs import pid_status, start_time, stop_group

RUNTIMES = ("aot", "tflm")
TFLITE_SUFFIX = ".tflite"


@dataclass
class BuiltFirmware:
    board: Board
    runtime: str
    model_path: Path
    model_sha256: str
    project_dir: Path
    build: BuildResult
    arena_bytes: int | None = None
    built_now: bool = True  # False when the project was unchanged since its last build (no PlatformIO run)
    arena_estimate: int | None = None  # the host's estimate of the arena the device uses (verify holds it against HELLO)
    fit: Any = None  # plan.fit.Fit of the built firmware (None on the native board: no limits)
    stack_bound: int | None = None  # static bound on the main stack (aot builds; flash/stack.py)

    def describe(self) -> str:
        text = (f"{self.runtime} firmware for {self.board.id}: flash {self.build.flash_bytes:,} B, "
                f"RAM {self.build.ram_bytes:,} B" + (f", arena {self.arena_bytes:,} B" if self.arena_bytes else "")
                + (f", stack <= {self.stack_bound:,} B" if self.stack_bound else ""))
        return text + (f"\n  fit: {self.fit.describe()}" if self.fit is not None else "")


# --- prepare ------------------------------------------------------------------------------------------


def prepare_model(model: Path, *, rep_data: str | None = None, rep_samples: int = 200) -> Path:
    """A .tflite as is; a Keras file or SavedModel converted to full int8 first (needs representative data)."""
    model = Path(model)
    if not model.exists():
        raise UserError(f"{model}: no such file or directory")
    if model.suffix == TFLITE_SUFFIX:
        return model
    if rep_data is None:
        raise UserError(f"{model}: a Keras/SavedModel model needs representative data to quantize to int8",
                        hint="pass --rep-data X.npy (or convert it yourself: deploy convert --mode int8)")
    from tinydeploy.convert.pipeline import convert_model  # TensorFlow is imported only on this path

    out = cache_dir() / "converted" / f"{model.stem}-int8.tflite"
    convert_model(model, "int8", output=out, rep_data=rep_data, rep_samples=rep_samples, progress=True)
    return out


# --- render + build -----------------------------------------------------------------------------------


def project_dir_for(board: Board, runtime: str, model_sha256: str, *, layers: bool = False) -> Path:
    """Firmware with per-layer profiling (--layers) is built beside the plain one, so neither evicts the other."""
    return cache_dir() / "projects" / f"{board.id}-{runtime}-{model_sha256[:12]}{'-layers' if layers else ''}"


def render_project(model_path: Path, board: Board, runtime: str, out_dir: Path, **options: Any) -> Any:
    """Render the runtime's PlatformIO project for the board; returns the renderer's result (arena_bytes, ...)."""
    check_runtime(runtime)
    if runtime == "aot":
        from tinydeploy.render.aot import render_aot

        return render_aot(model_path, board, out_dir, optimized=options.get("optimized", True),
                          layers=bool(options.get("layers")), memory_priority=options.get("memory_priority", "speed"))
    from tinydeploy.config import tflm_options
    from tinydeploy.render.tflm import render_tflm

    cli = {k: options.get(k) for k in ("arena_bytes", "tflm_path")}
    return render_tflm(model_path, board, out_dir, **tflm_options(cli), layers=bool(options.get("layers")))


def check_runtime(runtime: str) -> None:
    if runtime not in RUNTIMES:
        raise UserError(f"unknown runtime '{runtime}'", hint=f"choose one of: {', '.join(RUNTIMES)}")


def build_firmware(model_path: Path, board: Board, runtime: str = "aot", *, out_dir: Path | None = None,
                   **options: Any) -> BuiltFirmware:
    """Render and build (cached): the firmware that runs `model_path` on `board` with `runtime`."""
    model = load_model(model_path)
    layers = bool(options.get("layers"))
    project = Path(out_dir) if out_dir else project_dir_for(board, runtime, model.sha256, layers=layers)
    project.mkdir(parents=True, exist_ok=True)
    # Several processes (pytest-xdist workers, a user's second terminal) may build the same project.
    with _locked(project / ".tinydeploy.lock"):
        rendered = render_project(Path(model_path), board, runtime, project, **options)
        arena = getattr(rendered, "arena_bytes", None)
        fit = _fit_before_build(model, board, runtime, rendered)  # refuses what cannot fit, before compiling
        build = _unchanged_build(project, board)
        built_now = build is None
        if build is None:
            build = build_project(project, board, timeout=options.get("build_timeout") or DEFAULT_BUILD_TIMEOUT_S)
            _record_build(project, build)
    if fit is not None:
        fit = confirm_fit(fit, build.flash_bytes, build.ram_bytes, Path(model_path).name)
    return BuiltFirmware(board=board, runtime=runtime, model_path=Path(model_path), model_sha256=model.sha256,
                         project_dir=project, build=build, arena_bytes=arena, built_now=built_now,
                         arena_estimate=_arena_estimate(runtime, rendered), fit=fit,
                         stack_bound=_stack_bound(build, board, Path(model_path).name))


def _stack_bound(build: BuildResult, board: Board, model_name: str) -> int | None:
    """The static stack bound from the build's call graphs (aot builds write them), checked against the stack
    the QEMU machines' linker script reserves (elsewhere the vendor's linker script decides, and the bound is
    only reported)."""
    from tinydeploy.flash.firmware import DEFAULT_STACK_BYTES, check_stack_bound

    if board.is_native:
        return None
    ci_files = sorted(Path(build.elf).parent.rglob("*.ci"))
    reserved = DEFAULT_STACK_BYTES if board.firmware_platform == "qemu_mps2" else None
    return check_stack_bound(ci_files, reserved, model_name)


def _fit_before_build(model: Any, board: Board, runtime: str, rendered: Any) -> Any:
    """The flash/RAM estimate against the board's (None where the board has no limits: native)."""
    if not (board.flash_bytes or board.ram_bytes):
        return None
    fit = estimate_fit(model, board, runtime, arena_bytes=getattr(rendered, "arena_bytes", None),
                       weights_bytes=getattr(rendered, "weights_bytes", None))
    check_fit(fit, model.path.name if getattr(model, "path", None) else "the model")
    if os.isatty(2):  # before a build that may take minutes, as Edge Impulse shows it before deploying
        os.write(2, f"{board.id}: {fit.describe()}\n".encode())
    return fit


def _arena_estimate(runtime: str, rendered: Any) -> int | None:
    """aot plans the arena exactly; tflm's is TFLM's host measurement corrected for the device (before the margin)."""
    if runtime == "aot":
        return getattr(rendered, "arena_bytes", None)
    estimate = getattr(rendered, "arena", None)
    return getattr(estimate, "required", None)


BUILD_STAMP = ".tinydeploy-build.json"


def _project_digest(project: Path) -> str:
    """sha256 over everything PlatformIO builds from: platformio.ini and src/ (names and contents)."""
    digest = hashlib.sha256()
    files = [project / "platformio.ini", *sorted(p for p in (project / "src").rglob("*") if p.is_file()),
             # a local library's cache marker: its key changes with the library's sources (build/libcache.py)
             *sorted((project / "lib").glob("*/tinydeploy-libcache.json"))]
    for path in files:
        digest.update(str(path.relative_to(project)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _unchanged_build(project: Path, board: Board) -> BuildResult | None:
    """The last build's result when the project's sources and its ELF are exactly as that build left them:
    PlatformIO would find nothing to do, and asking it still costs seconds."""
    try:
        stamp = json.loads((project / BUILD_STAMP).read_text())
        result = BuildResult(project_dir=project.resolve(), env=stamp["env"], elf=Path(stamp["elf"]),
                             bin=Path(stamp["bin"]) if stamp["bin"] else None, flash_bytes=stamp["flash_bytes"],
                             ram_bytes=stamp["ram_bytes"], log=Path(stamp["log"]))
        if (stamp["board"] == board.id and stamp["digest"] == _project_digest(project)
                and _file_sha256(result.elf) == stamp["elf_sha256"]):
            return result
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def _record_build(project: Path, build: BuildResult) -> None:
    stamp = {"board": build.env, "digest": _project_digest(project), "env": build.env, "elf": str(build.elf),
             "elf_sha256": _file_sha256(build.elf), "bin": str(build.bin) if build.bin else None,
             "flash_bytes": build.flash_bytes, "ram_bytes": build.ram_bytes, "log": str(build.log)}
    write_atomic(project / BUILD_STAMP, json.dumps(stamp, indent=2) + "\n")


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --- flash --------------------------------------------------------------------------------------------


def upload(fw: BuiltFirmware, *, timeout: float = 300, port: str | None = None) -> None:
    """PlatformIO's uploader for a real board (the emulated ones 'upload' by starting QEMU instead); refused
    (BoardBusy) while another process flashes or verifies the board."""
    with board_lock(fw.board, board_key(fw.board, port)):
        result = run_pio(["run", "-d", str(fw.project_dir), "-e", fw.build.env, "-t", "upload"],
                         board=fw.board, timeout=timeout)
        if result.returncode != 0:
            raise UserError(f"upload to {fw.board.id} failed:\n{first_error_lines(result.stdout)}",
                            hint="is the board connected and in its bootloader? (deploy doctor lists serial ports)")


@contextmanager
def started_device(fw: BuiltFirmware, *, port: str | None = None, timeout: float = 3600) -> Iterator[str]:
    """Yield the serial URL of a device running `fw`, for as long as the with-block lasts.

    Emulated and native boards run as child processes (stopped on exit, also on errors); a real board is
    flashed through PlatformIO and found by its USB VID:PID unless `port` names it.
    """
    if fw.board.is_emulated or fw.board.is_native:
        from tinydeploy.flash.qemu import make_runner

        with make_runner(fw.board, fw.build.elf, timeout=timeout) as runner:
            try:
                yield runner.url
            except BaseException as err:
                fault = runner.hardfault
                if fault and not isinstance(err, KeyboardInterrupt):
                    raise UserError(f"the firmware on {fw.board.id} faulted: {fault}") from err
                raise
        return
    from tinydeploy.link import find_port

    with board_lock(fw.board, board_key(fw.board, port)):  # from the upload to the end of the verify
        upload(fw, port=port)
        yield find_port(fw.board, port)


# --- detached emulated sessions (deploy flash --board qemu-m4 leaves QEMU serving) ---------------------


def session_file(board: Board) -> Path:
    return cache_dir() / "sessions" / f"{board.id}.json"


def read_session(board: Board) -> dict[str, Any] | None:
    """The running emulated session for the board, if its process is still alive."""
    return session_status(board)[0]


def session_status(board: Board) -> tuple[dict[str, Any] | None, str | None]:
    """(session, None) while the board's background firmware runs; (None, why) when its process ended —
    exited, defunct (a zombie: it counts as gone, and is reaped when it is ours) or its pid reused —
    and the record is dropped; (None, None) when there was no session."""
    path = session_file(board)
    if not path.is_file():
        return None, None
    try:
        data = json.loads(path.read_text())
        pid = int(data.get("pid", 0))
    except (OSError, ValueError, TypeError):
        path.unlink(missing_ok=True)
        return None, f"its session record {path} was unreadable and was removed"
    gone = pid_status(pid, data.get("start_time"))
    if gone is None:
        return data, None
    path.unlink(missing_ok=True)
    what = "QEMU" if board.is_emulated else "firmware"
    return None, f"its {what} process (pid {pid}, started by deploy flash) {gone}" + _log_tail(data.get("log"))


def _log_tail(log: str | None, lines: int = 3) -> str:
    """The last lines of a session's log, where a crash or a fault marker would be."""
    try:
        tail = Path(log).read_text(errors="replace").strip().splitlines()[-lines:] if log else []
    except OSError:
        return ""
    return f"; its log ({log}) ends: {' | '.join(tail)}" if tail else ""


DETACHED_STARTUP_S = 10.0
_QEMU_LISTENING = re.compile(r"QEMU waiting for connection on: .*?:127\.0\.0\.1:(\d+)")
_NATIVE_LISTENING = re.compile(r"td-native listening=(socket://\S+)")


def start_detached(fw: BuiltFirmware) -> dict[str, Any]:
    """Start an emulated/native board's firmware in the background, serving its link until stopped.

    Replaces a session already running for the board.  The session (pid, url, model) is recorded so that
    `deploy verify --board B` finds it and `deploy flash --board B --stop` ends it.
    """
    previous = read_session(fw.board)
    if previous is not None:
        check_free(fw.board, previous["url"])  # a verify is using it: do not pull it away
    stop_session(fw.board)
    log_path = session_file(fw.board).with_suffix(".log")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    if fw.board.is_native:
        cmd, pattern = [str(fw.build.elf)], _NATIVE_LISTENING
    else:
        from tinydeploy.flash.qemu import QemuRunner, _free_port

        cmd, pattern = QemuRunner(fw.board, fw.build.elf).command(_free_port()), _QEMU_LISTENING
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)  # outlives this command, by design
    try:
        url = _wait_for_url(proc, log_path, pattern)
        session = {"pid": proc.pid, "start_time": start_time(proc.pid), "url": url, "board": fw.board.id,
                   "runtime": fw.runtime, "model_path": str(fw.model_path.resolve()),
                   "model_sha256": fw.model_sha256, "elf": str(fw.build.elf), "log": str(log_path),
                   "arena_estimate": fw.arena_estimate}
        write_atomic(session_file(fw.board), json.dumps(session, indent=2) + "\n")
    except BaseException:  # failed, Ctrl-C or SIGTERM before it was recorded: nobody could stop it later
        stop_group(proc)
        raise
    return session


def _wait_for_url(proc: subprocess.Popen, log_path: Path, pattern: re.Pattern[str]) -> str:
    deadline = time.monotonic() + DETACHED_STARTUP_S
    while time.monotonic() < deadline:
        text = log_path.read_text(errors="replace")
        match = pattern.search(text)
        if match:
            value = match.group(1)
            return value if value.startswith("socket://") else f"socket://127.0.0.1:{value}"
        if proc.poll() is not None:
            raise UserError(f"the emulator exited at once (status {proc.returncode}): {text.strip()[-300:]}")
        time.sleep(0.05)
    raise UserError(f"the firmware did not open its serial link within {DETACHED_STARTUP_S:g} s",
                    hint=f"see {log_path}")


def stop_session(board: Board) -> bool:
    """Stop the background session of an emulated/native board; True if one was running."""
    session = read_session(board)
    if session is None:
        return False
    pid = int(session["pid"])
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    _wait_gone(pid, session.get("start_time"))
    session_file(board).unlink(missing_ok=True)
    return True


def _wait_gone(pid: int, started: int | None, grace: float = 2.0) -> None:
    """Wait until a stopped session's process is gone (reaping it if it is our child), SIGKILL its group
    after `grace` seconds: a replacement must not race it for the board."""
    deadline = time.monotonic() + grace
    while pid_status(pid, started) is None:
        if time.monotonic() >= deadline:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            return
        time.sleep(0.02)
