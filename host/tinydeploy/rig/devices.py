"""The device sessions a rig hands to tests: a board running a firmware, its DeviceLink and its DUT.

One `RigDevice` per (board, firmware, place) lives for a whole pytest session (or xdist worker), so a
suite boots each board once.  Where it comes from:

  * emulated board  -> `ArmQemu` (pytest-embedded QEMU service) + `QemuDut`; the link is QEMU's UART
    socket, the DUT log is QEMU's output (semihosted printf);
  * real board      -> PlatformIO upload, then pytest-embedded's serial service + `SerialDut` on the
    port; the link shares that port, pausing the DUT's reader only while a protocol exchange runs
    (`exclusive()`), so `dut.expect` keeps working for whatever the firmware prints in between;
  * native board    -> the host process (tinydeploy.flash.native), no DUT;
  * a URL           -> an already running board (a labgrid place's rfc2217:// port), no DUT.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from tinydeploy.errors import LinkError
from tinydeploy.link import DeviceLink
from tinydeploy.link.transport import SerialTransport
from tinydeploy.rig.firmware_cache import Firmware

LINK_TIMEOUT_S = 2.0
INVOKE_TIMEOUT_S = 60.0


@dataclass
class RigDevice:
    firmware: Firmware
    url: str
    link: DeviceLink
    dut: Any = None  # a pytest-embedded Dut, when a pytest-embedded service runs the board
    place: str | None = None  # the labgrid place it was borrowed from
    lost: str | None = None  # why the device became unusable (the link died), None while healthy
    _exclusive: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext
    _closers: list[Callable[[], None]] = field(default_factory=list)

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[DeviceLink]:
        """The link, for one protocol exchange; marks the device lost if the link fails."""
        if self.lost:
            raise LinkError(f"{self.where} is gone: {self.lost}")
        with self._exclusive():
            try:
                yield self.link
            except LinkError as err:
                self.lost = str(err).splitlines()[0]
                raise

    @property
    def where(self) -> str:
        return f"labgrid place {self.place} ({self.url})" if self.place else f"board {self.firmware.board.id} at {self.url}"

    def close(self) -> None:
        for closer in reversed(self._closers):
            with contextlib.suppress(Exception):
                closer()
        self._closers.clear()


def _open_link(url: str, baud: int = 115200, transport=None) -> DeviceLink:
    if transport is None:
        return DeviceLink.open(url, timeout=LINK_TIMEOUT_S, invoke_timeout=INVOKE_TIMEOUT_S, baud=baud)
    return DeviceLink.over(transport, timeout=LINK_TIMEOUT_S, invoke_timeout=INVOKE_TIMEOUT_S)


def open_emulated(fw: Firmware, *, logdir: Path, name: str) -> RigDevice:
    from tinydeploy.rig.qemu_service import start_qemu_dut

    dut, qemu, parts = start_qemu_dut(fw.board, fw.elf, logdir=logdir, name=name)
    try:
        link = _open_link(qemu.url)
    except BaseException:
        qemu.terminate()
        parts.close()
        raise
    device = RigDevice(firmware=fw, url=qemu.url, link=link, dut=dut)
    device._closers += [parts.close, qemu.terminate, link.close]
    return device


def open_native(fw: Firmware) -> RigDevice:
    from tinydeploy.flash.native import NativeRunner

    runner = NativeRunner(fw.elf, timeout=24 * 3600).start()
    try:
        link = _open_link(runner.url)
    except BaseException:
        runner.stop()
        raise
    device = RigDevice(firmware=fw, url=runner.url, link=link)
    device._closers += [runner.stop, link.close]
    return device


def open_url(fw: Firmware, url: str, *, place: str | None = None) -> RigDevice:
    """A board that already runs the firmware, reached at `url` (no flashing, no DUT)."""
    link = _open_link(url, fw.board.serial.baud)
    device = RigDevice(firmware=fw, url=url, link=link, place=place)
    device._closers.append(link.close)
    return device


def open_real(fw: Firmware, *, port: str | None, logdir: Path, name: str, flash: bool = True) -> RigDevice:
    """Upload the firmware with PlatformIO (unless flash=False), then serve the port through pytest-embedded."""
    from pytest_embedded.app import App
    from pytest_embedded_serial import Serial, SerialDut

    from tinydeploy.link import find_port
    from tinydeploy.rig.qemu_service import dut_parts

    if flash:
        from tinydeploy.pipeline import upload

        upload(_built(fw))
    url = find_port(fw.board, port)
    parts, pexpect_proc = dut_parts(logdir, name)
    try:
        serial = Serial(msg_queue=parts.msg_queue, port=url, baud=fw.board.serial.baud)
    except BaseException:
        parts.close()
        raise
    dut = SerialDut(serial=serial, pexpect_proc=pexpect_proc, msg_queue=parts.msg_queue, app=App(),
                    pexpect_logfile=parts.logfile, test_case_name=name)
    try:
        with serial.disable_redirect_thread():
            link = _open_link(url, transport=SerialTransport(url, port=serial.proc))
    except BaseException:
        serial.close()
        parts.close()
        raise
    device = RigDevice(firmware=fw, url=url, link=link, dut=dut, _exclusive=serial.disable_redirect_thread)
    device._closers += [parts.close, serial.close]
    return device


def _built(fw: Firmware):
    """The pipeline's BuiltFirmware for an upload (cheap: the cache makes PlatformIO find nothing to do)."""
    from tinydeploy.pipeline import build_firmware

    return build_firmware(fw.model_path, fw.board, fw.runtime)
