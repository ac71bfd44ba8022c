"""Byte transports under the protocol: a serial port, a pty, a remote rig, an emulator's UART socket.

Every URL pyserial understands works (`/dev/ttyACM0`, `/dev/pts/5`, `rfc2217://host:port`,
`loop://`); `socket://host:port` gets its own small transport because pyserial's socket:// `read(n)`
raises on EOF and throws away the bytes it had already read in that call: an emulator that prints its
last frame and exits would lose exactly the frame we need.  Every read has a timeout; a closed link is
a `LinkError` naming the port.
"""

from __future__ import annotations

import select
import socket
import time
from typing import Protocol

from tinydeploy.errors import LinkError


class Transport(Protocol):
    url: str
    bytes_written: int
    bytes_read: int

    def write(self, data: bytes) -> None: ...

    def read(self, timeout: float) -> bytes:
        """Whatever arrives within `timeout` seconds (at least one byte), or b"" on timeout."""
        ...

    def discard_input(self) -> None: ...

    def close(self) -> None: ...


class SerialTransport:
    """pyserial for ttys, ptys, rfc2217:// and loop://.

    Given `port`, an already-open pyserial port (e.g. the one pytest-embedded's serial service holds for its
    DUT log), the transport uses it and leaves closing it to its owner.
    """

    def __init__(self, url: str, baud: int = 115200, *, port=None) -> None:
        import serial

        self.url = url
        self.bytes_written = self.bytes_read = 0
        self._error = serial.SerialException
        self._owns_port = port is None
        if port is not None:
            self._port = port
            return
        try:
            # rfc2217:// refuses write_timeout (NotImplementedError); its writes go to a socket anyway.
            write_timeout = None if url.startswith("rfc2217://") else 10
            self._port = serial.serial_for_url(url, baudrate=baud, timeout=0.05, write_timeout=write_timeout)
        except (serial.SerialException, OSError, ValueError, NotImplementedError) as err:
            raise LinkError(
                f"cannot open serial port {url}: {err}",
                hint="check the cable and the --port value (deploy verify lists what it detects)",
            ) from err

    def write(self, data: bytes) -> None:
        try:
            self._port.write(data)
            self._port.flush()
        except (self._error, OSError) as err:
            raise LinkError(f"writing to {self.url} failed: {err}", hint="was the board unplugged?") from err
        self.bytes_written += len(data)

    def read(self, timeout: float) -> bytes:
        deadline = time.monotonic() + max(timeout, 0.0)
        try:
            while True:
                waiting = self._port.in_waiting
                data = self._port.read(max(1, waiting))
                if data:
                    self.bytes_read += len(data)
                    return data
                if time.monotonic() >= deadline:
                    return b""
        except (self._error, OSError) as err:
            raise LinkError(f"reading from {self.url} failed: {err}", hint="was the board unplugged?") from err

    def discard_input(self) -> None:
        try:
            self._port.reset_input_buffer()
        except (self._error, OSError):
            pass

    def close(self) -> None:
        if not self._owns_port:
            return
        try:
            self._port.close()
        except (self._error, OSError):
            pass


class SocketTransport:
    """socket://host:port (QEMU's `-serial tcp:...` UART, or a TCP serial bridge)."""

    def __init__(self, url: str, connect_timeout: float = 5.0) -> None:
        self.url = url
        self.bytes_written = self.bytes_read = 0
        host, _, port = url[len("socket://") :].rstrip("/").rpartition(":")
        if not host or not port.isdigit():
            raise LinkError(f"bad socket URL {url}", hint="use socket://HOST:PORT")
        deadline = time.monotonic() + connect_timeout
        while True:  # an emulator may still be starting its listener
            try:
                self._sock = socket.create_connection((host, int(port)), timeout=connect_timeout)
                break
            except OSError as err:
                if time.monotonic() >= deadline:
                    raise LinkError(
                        f"cannot connect to {url}: {err.strerror or err}",
                        hint="is the emulator running? (deploy flash --board qemu-... starts it)",
                    ) from err
                time.sleep(0.05)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock.setblocking(False)
        self._closed = False

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        deadline = time.monotonic() + 10.0
        while view:
            if time.monotonic() > deadline:
                raise LinkError(f"writing to {self.url} timed out", hint="the device stopped reading")
            _, ready, _ = select.select([], [self._sock], [], 0.1)
            if not ready:
                continue
            try:
                sent = self._sock.send(view)
            except OSError as err:
                raise LinkError(f"writing to {self.url} failed: {err}", hint="did the emulator exit?") from err
            view = view[sent:]
        self.bytes_written += len(data)

    def read(self, timeout: float) -> bytes:
        if self._closed:
            raise LinkError(f"{self.url} closed the connection", hint="did the emulator exit or crash?")
        ready, _, _ = select.select([self._sock], [], [], max(timeout, 0.0))
        if not ready:
            return b""
        try:
            data = self._sock.recv(65536)
        except BlockingIOError:
            return b""
        except OSError as err:
            raise LinkError(f"reading from {self.url} failed: {err}", hint="did the emulator exit?") from err
        if not data:
            self._closed = True  # EOF: everything before it was already returned by earlier calls
            raise LinkError(f"{self.url} closed the connection", hint="did the emulator exit or crash?")
        self.bytes_read += len(data)
        return data

    def discard_input(self) -> None:
        while True:
            ready, _, _ = select.select([self._sock], [], [], 0)
            if not ready:
                return
            try:
                if not self._sock.recv(65536):
                    self._closed = True
                    return
            except OSError:
                return

    def close(self) -> None:
        try:
            self._sock.close()
        except OSError:
            pass


def open_transport(url: str, *, baud: int = 115200) -> Transport:
    """The transport for a port URL or device path."""
    if url.startswith("socket://"):
        return SocketTransport(url)
    return SerialTransport(url, baud=baud)
