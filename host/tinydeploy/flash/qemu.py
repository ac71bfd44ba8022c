"""Run firmware on an emulated board: qemu-system-arm with the UART on a local TCP socket.

    with QemuRunner(board, elf, timeout=60) as run:
        port = run.open_serial(timeout=1)                   # the guest starts when this connects
        ...
        status = run.wait(10)
        run.check()                                         # raises on a fault or a missing exit marker

QEMU runs with -icount shift=0, so the firmware's counter counts executed instructions exactly and
repeatably (firmware/platform/qemu_mps2/).  The UART chardev is a TCP server on 127.0.0.1 that QEMU
waits on before starting the guest (`wait=on`): nothing the firmware prints is lost before the host
connects.  printf output and the exit/fault markers come over semihosting on QEMU's stderr, captured
in `.output`.

Pitfalls this module handles or documents:
  * a reset request ends QEMU -no-reboot with status 0, so status 0 alone is no pass: `check()` also
    needs the "*** TD_EXIT status=N" marker td_platform_exit() prints;
  * pyserial's socket:// handler discards what already arrived when it opens, and its read() raises
    SerialException on EOF, dropping what it had read in that call: open the link with
    `run.open_serial()` / `open_link_port(url)`, which keep both (plain serial_for_url(run.url) works
    but may lose the firmware's first bytes).
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import IO, Sequence

from tinydeploy.boards import Board
from tinydeploy.errors import LinkError, ToolMissingError, UserError
from tinydeploy.flash.firmware import resolve_board
from tinydeploy.procs import spawn_group, stop_group

QEMU = "qemu-system-arm"
RENODE = "renode"
HARDFAULT_MARKER = "*** HARDFAULT"
EXIT_MARKER = re.compile(r"\*\*\* TD_EXIT status=(-?\d+)")
FAULT_EXIT_STATUS = 70  # firmware/platform/qemu_mps2/mps2_machine.h MPS2_EXIT_FAULT
STARTUP_TIMEOUT_S = 10.0
_LISTENING = "QEMU waiting for connection on"
_PORT_IN_USE = ("Address already in use", "Failed to bind socket")
_PORT_ATTEMPTS = 3


class FirmwareFault(UserError):
    """The firmware hit a fault (HardFault marker) or left without its exit marker."""

    exit_code = 1


def _die_with_parent(cmd: list[str]) -> list[str]:
    """Prefix cmd so the child is killed if this process dies without cleaning up (SIGKILL, os._exit).

    Without it an emulator waiting for its first client would wait forever.  Linux's parent-death signal
    fires when the *thread* that started the child ends, so start runners from a thread that outlives
    them (the usual with-block does).
    """
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "KILL", "--", *cmd] if setpriv else cmd


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _OutputCollector:
    """Drains a child's pipe on a thread (so the child never blocks on a full pipe) into one text."""

    def __init__(self) -> None:
        self._chunks: list[str] = []
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._threads: list[threading.Thread] = []

    def follow(self, stream: IO[bytes]) -> None:
        thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        thread.start()
        self._threads.append(thread)

    def _pump(self, stream: IO[bytes]) -> None:
        for raw in iter(lambda: stream.readline(), b""):
            with self._changed:
                self._chunks.append(raw.decode("utf-8", "replace"))
                self._changed.notify_all()
        stream.close()

    @property
    def text(self) -> str:
        with self._lock:
            return "".join(self._chunks)

    def wait_for(self, predicate, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate("".join(self._chunks)):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(min(remaining, 0.1))
        return True

    def join(self, timeout: float = 2.0) -> None:
        for thread in self._threads:
            thread.join(timeout)


class ProcessRunner:
    """What every runner shares: one child process, its captured output, a run time limit, exit checks.

    Subclasses say how to start the process (`_launch`) and where the serial link is (`url`).  The
    child is killed when `timeout` expires, on `stop()`, and on leaving the with-block for any reason
    (exception, KeyboardInterrupt).
    """

    what = "firmware process"

    def __init__(self, board: Board, elf: Path, *, timeout: float) -> None:
        self.board = board
        self.elf = Path(elf)
        if not self.elf.is_file():
            raise UserError(f"firmware '{self.elf}' does not exist", hint="build it first (deploy build)")
        self.timeout = timeout
        self.timed_out = False
        self._proc: subprocess.Popen[bytes] | None = None
        self._output = _OutputCollector()
        self._watchdog: threading.Timer | None = None

    # -- lifecycle ----------------------------------------------------------------------------------

    def _launch(self) -> None:
        raise NotImplementedError

    def start(self) -> "ProcessRunner":
        try:
            self._launch()
        except BaseException:
            self.stop()
            raise
        self._watchdog = threading.Timer(self.timeout, self._expire)
        self._watchdog.daemon = True
        self._watchdog.start()
        return self

    def _spawn(self, cmd: list[str]) -> None:
        self._output = _OutputCollector()
        # Its own process group (procs.spawn_group): a Ctrl-C in the terminal reaches us, not it, and we
        # stop the group ourselves (on leaving the with-block, or the CLI's procs.stop_all()).
        self._proc = spawn_group(_die_with_parent(cmd), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT)
        assert self._proc.stdout is not None
        self._output.follow(self._proc.stdout)

    def _expire(self) -> None:
        if self.running:
            self.timed_out = True
            self._kill()

    def _kill(self) -> None:
        if self._proc is not None:
            stop_group(self._proc, grace=2.0)

    def stop(self) -> None:
        """Kill the child if it still runs and release everything; safe to call more than once."""
        if self._watchdog is not None:
            self._watchdog.cancel()
        self._kill()
        self._output.join()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- state ----------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        raise NotImplementedError

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def exit_code(self) -> int | None:
        return None if self._proc is None else self._proc.poll()

    @property
    def output(self) -> str:
        """The child's stdout+stderr: its own messages, the firmware's printf and the markers."""
        return self._output.text

    @property
    def hardfault(self) -> str | None:
        """The fault marker line, if the firmware reported a fault."""
        for line in self.output.splitlines():
            if HARDFAULT_MARKER in line:
                return line.strip()
        return None

    @property
    def exit_marker_status(self) -> int | None:
        """The status td_platform_exit() announced, or None if it never ran."""
        match = EXIT_MARKER.search(self.output)
        return int(match.group(1)) if match else None

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the child to exit (at most `timeout` s, default the run limit); return its status."""
        if self._proc is None:
            raise LinkError(f"{self.what} not started: use the runner as a context manager or call start()")
        limit = self.timeout if timeout is None else timeout
        try:
            code = self._proc.wait(limit)
        except subprocess.TimeoutExpired as exc:
            raise LinkError(
                f"firmware on board '{self.board.id}' did not exit within {limit:g} s",
                hint="is it waiting for input, or did nobody connect to its serial link?",
            ) from exc
        self._output.join()
        if self.timed_out:
            raise LinkError(f"firmware on board '{self.board.id}' was killed after the {self.timeout:g} s run limit")
        return code

    def check(self, expected_status: int = 0) -> None:
        """Raise FirmwareFault unless the firmware exited through td_platform_exit(expected_status)."""
        if self.hardfault:
            raise FirmwareFault(f"firmware {self.elf.name} on board '{self.board.id}' faulted: {self.hardfault}")
        status = self.exit_marker_status
        if status is None:
            raise FirmwareFault(
                f"firmware {self.elf.name} on board '{self.board.id}' ended without its exit marker "
                f"(status {self.exit_code}): a reset request or a crash, not a clean exit"
            )
        if status != expected_status or self.exit_code != expected_status:
            raise FirmwareFault(
                f"firmware {self.elf.name} on board '{self.board.id}' exited with status {status}"
                f" (process {self.exit_code}), expected {expected_status}"
            )

    def open_serial(self, timeout: float = 1.0):
        """A pyserial port on the firmware's serial link that loses nothing (see `open_link_port`)."""
        return open_link_port(self.url, timeout=timeout)


class QemuRunner(ProcessRunner):
    """qemu-system-arm running one ELF for one emulated board, as a context manager.

    `timeout` bounds the whole run.  The guest starts when the first client connects to `.url`.
    """

    what = "QEMU runner"

    def __init__(
        self,
        board: Board | str,
        elf: Path,
        *,
        timeout: float = 60.0,
        extra_args: Sequence[str] = (),
    ) -> None:
        board = resolve_board(board)
        if board.qemu is None:
            raise UserError(
                f"board '{board.id}' is not emulated: it has no [qemu] table",
                hint="pick an emulated board (deploy boards), or flash real hardware",
            )
        super().__init__(board, elf, timeout=timeout)
        self.extra_args = list(extra_args)
        self.port: int | None = None

    def command(self, port: int) -> list[str]:
        q = self.board.qemu
        assert q is not None
        cmd = [QEMU, "-M", q.machine]
        if q.cpu:
            cmd += ["-cpu", q.cpu]
        cmd += [
            "-kernel", str(self.elf),
            "-icount", "shift=0",
            "-display", "none",
            "-monitor", "none",
            "-serial", "chardev:uart0",
            "-chardev", f"socket,id=uart0,host=127.0.0.1,port={port},server=on,wait=on,nodelay=on",
            "-semihosting-config", "enable=on,target=native",
            "-no-reboot",
        ]  # fmt: skip
        return cmd + self.extra_args

    def _launch(self) -> None:
        if shutil.which(QEMU) is None:
            raise ToolMissingError(f"'{QEMU}' is not on PATH", hint="apt-get install qemu-system-arm")
        for _ in range(_PORT_ATTEMPTS):
            port = _free_port()
            self._spawn(self.command(port))
            if self._output.wait_for(lambda text: _LISTENING in text, STARTUP_TIMEOUT_S):
                self.port = port
                return
            self._kill()
            self._output.join()
            if not any(marker in self._output.text for marker in _PORT_IN_USE):
                raise LinkError(
                    f"QEMU for board '{self.board.id}' did not start listening within {STARTUP_TIMEOUT_S:.0f} s",
                    hint=f"its output was: {self._output.text.strip()[-500:] or '(nothing)'}",
                )
            # the port was taken between probing and binding it: try another
        raise LinkError(f"QEMU for board '{self.board.id}' could not bind a local port")

    @property
    def url(self) -> str:
        if self.port is None:
            raise LinkError("QEMU runner not started: use it as a context manager or call start()")
        return f"socket://127.0.0.1:{self.port}"


def read_all(sock_url: str, *, until_closed_within: float = 10.0) -> bytes:
    """Connect a plain socket to a runner's socket:// url and read everything until the peer closes.

    For when the rest of a run's UART output is wanted without pyserial's EOF pitfall.
    """
    host, port = sock_url.removeprefix("socket://").rsplit(":", 1)
    data = bytearray()
    deadline = time.monotonic() + until_closed_within
    with socket.create_connection((host, int(port)), timeout=until_closed_within) as sock:
        while time.monotonic() < deadline:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            data += chunk
    return bytes(data)


def open_link_port(url: str, *, timeout: float = 1.0):
    """Open a runner's serial url with pyserial, minus two pitfalls of its socket:// handler.

    pyserial's socket:// open() discards whatever already arrived, and the firmware starts talking the
    moment the connection exists (QEMU starts the guest on connect): its first bytes could be lost.  And
    its read() raises on EOF, dropping the bytes it had gathered in that call: after the firmware's
    last words and exit, they would be lost too.  The port returned here keeps both; its read() returns
    what it has when the peer closes, and only the next read() raises.  Other urls (device paths,
    loop://) open with serial.serial_for_url unchanged.
    """
    import serial

    if not url.startswith("socket://"):
        return serial.serial_for_url(url, timeout=timeout)
    port = _lossless_socket_class()(None, timeout=timeout)
    port.port = url
    port.open()
    return port


_LOSSLESS_SOCKET_CLASS = None


def _lossless_socket_class():
    global _LOSSLESS_SOCKET_CLASS
    if _LOSSLESS_SOCKET_CLASS is not None:
        return _LOSSLESS_SOCKET_CLASS
    import select

    from serial import PortNotOpenError, SerialException
    from serial.urlhandler.protocol_socket import Serial as SocketSerial

    class LosslessSocketSerial(SocketSerial):
        _opening = False
        _peer_closed = False

        def open(self) -> None:
            self._opening = True
            self._peer_closed = False
            try:
                super().open()
            finally:
                self._opening = False

        def reset_input_buffer(self) -> None:
            if not self._opening:  # an explicit flush still flushes
                super().reset_input_buffer()

        def read(self, size: int = 1) -> bytes:
            if not self.is_open:
                raise PortNotOpenError()
            data = bytearray()
            deadline = None if self._timeout is None else time.monotonic() + self._timeout
            while len(data) < size and not self._peer_closed:
                wait = None if deadline is None else max(0.0, deadline - time.monotonic())
                ready, _, _ = select.select([self._socket], [], [], wait)
                if not ready:
                    break
                try:
                    chunk = self._socket.recv(size - len(data))
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError as exc:
                    raise SerialException(f"read failed: {exc}") from exc
                if not chunk:
                    self._peer_closed = True
                    break
                data += chunk
            if not data and self._peer_closed:
                raise SerialException("socket disconnected: the firmware closed its link (did it exit?)")
            return bytes(data)

    _LOSSLESS_SOCKET_CLASS = LosslessSocketSerial
    return LosslessSocketSerial


# -- optional Renode backend ------------------------------------------------------------------------


def renode_available() -> bool:
    """True when the `renode` binary is on PATH; only then may `RenodeRunner` be chosen."""
    return shutil.which(RENODE) is not None


class RenodeRunner(QemuRunner):
    """Hook for an optional Renode backend (same interface as QemuRunner), used only if renode exists.

    Not implemented: Renode is not installed on the project's machines.  An implementation would start
    `renode --disable-xwt --console` with a .resc that loads the ELF on a matching platform, exposes the
    UART with `emulation CreateServerSocketTerminal <port> "uart"`, and maps Renode's instruction counter
    to the same "instructions" unit.
    """

    def start(self) -> "RenodeRunner":
        if not renode_available():
            raise ToolMissingError(f"'{RENODE}' is not on PATH", hint="use the QEMU backend")
        raise NotImplementedError("the Renode backend is a hook only; use QemuRunner")


def make_runner(board: Board | str, elf: Path, *, timeout: float = 60.0, backend: str = "qemu") -> ProcessRunner:
    """The runner for a board that runs on this machine: NativeRunner for the native board, else the
    emulator backend ("qemu", the default, or "renode" when it is installed)."""
    board = resolve_board(board)
    if board.is_native:
        from tinydeploy.flash.native import NativeRunner

        return NativeRunner(elf, timeout=timeout)
    if backend == "renode":
        return RenodeRunner(board, elf, timeout=timeout)
    if backend != "qemu":
        raise UserError(f"unknown emulator backend '{backend}'", hint="use 'qemu' or 'renode'")
    return QemuRunner(board, elf, timeout=timeout)
