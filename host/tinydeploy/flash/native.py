"""Run firmware built for the `native` board: a host process with its serial link on a local socket.

    with NativeRunner(elf, timeout=30) as run:
        port = run.open_serial(timeout=1)   # run.url is "socket://127.0.0.1:PORT", as under QEMU
        ...
        run.wait(10)
        run.check()

The firmware (firmware/platform/native/) listens on 127.0.0.1, announces "td-native
listening=socket://127.0.0.1:PORT" on stderr and, like QEMU's UART with wait=on, waits in
td_platform_init() for the host to connect, so nothing it writes is lost.  (A pseudo-terminal was
tried first: pyserial flushes a port's input when it opens it, dropping the program's first lines.)
If the host disconnects, the program waits for it to reconnect.  Exit and fault markers use the same
text as on QEMU, so the same checks apply; open the link with run.open_serial() for the reasons given
in tinydeploy.flash.qemu.
"""

from __future__ import annotations

import re
from pathlib import Path

from tinydeploy.errors import LinkError
from tinydeploy.flash.firmware import resolve_board
from tinydeploy.flash.qemu import EXIT_MARKER, HARDFAULT_MARKER, FirmwareFault, ProcessRunner

__all__ = ["NativeRunner", "FirmwareFault", "EXIT_MARKER", "HARDFAULT_MARKER", "FAULT_EXIT_STATUS"]

FAULT_EXIT_STATUS = 70  # firmware/platform/native/native_platform.c NATIVE_EXIT_FAULT
STARTUP_TIMEOUT_S = 10.0
_LISTENING_LINE = re.compile(r"td-native listening=(socket://\S+)")


class NativeRunner(ProcessRunner):
    """The native firmware executable as a child process, as a context manager (see ProcessRunner)."""

    what = "native runner"

    def __init__(self, executable: Path, *, timeout: float = 60.0, args: tuple[str, ...] = ()) -> None:
        super().__init__(resolve_board("native"), Path(executable), timeout=timeout)
        self.args = args
        self.socket_url: str | None = None

    def _launch(self) -> None:
        self._spawn([str(self.elf.resolve()), *self.args])
        announced = self._output.wait_for(
            lambda text: _LISTENING_LINE.search(text) is not None or not self.running, STARTUP_TIMEOUT_S
        )
        match = _LISTENING_LINE.search(self.output)
        if not announced or match is None:
            raise LinkError(
                f"native firmware {self.elf.name} did not announce its serial socket within {STARTUP_TIMEOUT_S:.0f} s",
                hint="does main() call td_platform_init() first? output: "
                + (self.output.strip()[-300:] or "(nothing)"),
            )
        self.socket_url = match.group(1)

    @property
    def url(self) -> str:
        if self.socket_url is None:
            raise LinkError("native runner not started: use it as a context manager or call start()")
        return self.socket_url
