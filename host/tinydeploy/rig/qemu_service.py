"""pytest-embedded's QEMU service, for the Arm MPS2/MPS3 machines tinydeploy's emulated boards use.

pytest-embedded-qemu's `Qemu` always appends `-drive file=<image>,if=mtd` (an ESP32 flash image), which
the mps2 machines reject.  `ArmQemu` keeps everything else of that service -- the process whose output
feeds the DUT's log and `dut.expect`, QMP for `hard_reset()` -- but builds its command line from
`tinydeploy.flash.qemu.QemuRunner.command`, the one place that knows how to run a board's ELF: the
UART on a 127.0.0.1 TCP socket (the protocol link) and printf over semihosting on QEMU's stdout (the
text `dut.expect` sees).

`start_qemu_dut()` assembles a `QemuDut` from pytest-embedded's own building blocks (message queue,
log listener process, pexpect reader) so a rig can keep one QEMU for a whole test session instead of
pytest-embedded's one-per-test fixtures.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from pytest_embedded.app import App
from pytest_embedded.dut_factory import _listener_gn, _pexpect_fr_gn, pexpect_proc_fn
from pytest_embedded.log import DuplicateStdoutPopen, MessageQueue
from pytest_embedded_qemu import Qemu, QemuDut

from tinydeploy.boards import Board
from tinydeploy.errors import LinkError, ToolMissingError
from tinydeploy.flash.qemu import QEMU, QemuRunner, _die_with_parent, _free_port

STARTUP_TIMEOUT_S = 10.0
_LISTENING = re.compile(r"QEMU waiting for connection on: .*?:127\.0\.0\.1:(\d+)")
_PORT_IN_USE = ("Address already in use", "Failed to bind socket")


class ArmQemu(Qemu):
    """A pytest-embedded QEMU service running a tinydeploy board's ELF (no flash image, no -drive)."""

    SOURCE = "QEMU"

    def __init__(self, board: Board, elf: Path, *, msg_queue: MessageQueue, meta=None, **popen_kwargs) -> None:
        if shutil.which(QEMU) is None:
            raise ToolMissingError(f"'{QEMU}' is not on PATH", hint="apt-get install qemu-system-arm")
        self.app = None
        self.board = board
        self.elf = Path(elf)
        self.image_path = str(self.elf)
        self.efuse_path = None
        self.qemu_prog_path = QEMU
        self.uart_port = _free_port()
        self.qmp_addr, self.qmp_port = "127.0.0.1", _free_port()
        cmd = QemuRunner(board, self.elf).command(self.uart_port)
        cmd += ["-qmp", f"tcp:{self.qmp_addr}:{self.qmp_port},server,wait=off"]
        # Skip Qemu.__init__ (it would append the mtd drive); its Popen base is what runs the process.
        DuplicateStdoutPopen.__init__(self, msg_queue, _die_with_parent(cmd), meta=meta,
                                      start_new_session=True, **popen_kwargs)

    @property
    def log_text(self) -> str:
        """Everything QEMU printed so far (its own messages and the firmware's semihosted printf)."""
        try:
            return Path(self._logfile).read_text(errors="replace")
        except OSError:
            return ""

    def wait_listening(self, timeout: float = STARTUP_TIMEOUT_S) -> str:
        """The socket:// URL of the UART once QEMU listens on it; LinkError if it does not in time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if _LISTENING.search(self.log_text):
                return self.url
            if self.poll() is not None:
                break
            time.sleep(0.05)
        raise LinkError(f"QEMU for board '{self.board.id}' did not start listening within {timeout:g} s",
                        hint=f"its output was: {self.log_text.strip()[-400:] or '(nothing)'}")

    @property
    def port_was_taken(self) -> bool:
        return any(marker in self.log_text for marker in _PORT_IN_USE)

    @property
    def url(self) -> str:
        return f"socket://127.0.0.1:{self.uart_port}"

    def terminate(self) -> None:
        """Stop QEMU and its log forwarder; safe to call twice."""
        if self.poll() is None:
            try:
                os.killpg(self.pid, 15)
                self.wait(3)
            except ProcessLookupError:
                pass
            except Exception:  # still alive after SIGTERM
                os.killpg(self.pid, 9)
                self.wait(3)
        self.close()


@dataclass
class DutParts:
    """The pieces behind one DUT, closed in reverse order by `close()`."""

    msg_queue: MessageQueue
    listener: object
    reader: object
    logfile: str

    def close(self) -> None:
        try:
            self.reader.close()  # type: ignore[attr-defined]
        except OSError:
            pass
        if self.listener.is_alive():  # type: ignore[attr-defined]
            self.listener.terminate()  # type: ignore[attr-defined]
            self.listener.join(5)  # type: ignore[attr-defined]


def dut_parts(logdir: str | Path, name: str) -> tuple[DutParts, object]:
    """A message queue, the listener process writing it to `<logdir>/<name>.log`, and a pexpect reader."""
    os.makedirs(logdir, exist_ok=True)
    logfile = os.path.join(str(logdir), f"{name}.log")
    queue = MessageQueue()
    listener = _listener_gn(queue, logfile, True, 0, 1)
    reader = _pexpect_fr_gn(logfile, listener)
    return DutParts(queue, listener, reader, logfile), pexpect_proc_fn(reader)


def start_qemu_dut(board: Board, elf: Path, *, logdir: str | Path, name: str, attempts: int = 3):
    """(dut, qemu, parts): a QemuDut on an ArmQemu running `elf`, its UART listening at `qemu.url`."""
    parts, pexpect_proc = dut_parts(logdir, name)
    try:
        for _ in range(attempts):
            qemu = ArmQemu(board, elf, msg_queue=parts.msg_queue)
            try:
                qemu.wait_listening()
                break
            except LinkError:
                qemu.terminate()
                if not qemu.port_was_taken:
                    raise
        else:
            raise LinkError(f"QEMU for board '{board.id}' could not bind a local port")
        dut = QemuDut(qemu=qemu, pexpect_proc=pexpect_proc, msg_queue=parts.msg_queue, app=App(),
                      pexpect_logfile=parts.logfile, test_case_name=name)
    except BaseException:
        parts.close()
        raise
    return dut, qemu, parts
