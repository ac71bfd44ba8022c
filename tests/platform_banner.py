"""Talks to firmware/app/banner.c over a pyserial port (shared by the platform runner tests)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

EOT = 0x04


def parse_fields(line: bytes) -> dict[str, str]:
    words = line.decode().split()
    return dict(word.split("=", 1) for word in words if "=" in word)


@dataclass
class BannerSession:
    banner: dict[str, str]
    calib: dict[str, str]
    echoed: bytes
    bye: dict[str, str]
    echo_seconds: float


def read_line(port, prefix: bytes) -> bytes:
    line = port.read_until(b"\n")
    assert line.startswith(prefix), f"expected a {prefix!r} line, got {line!r}"
    return line


def echo(port, payload: bytes, chunk: int = 256) -> tuple[bytes, float]:
    """Send payload while a thread reads the echo back (so neither side can stall on a full buffer)."""
    received = bytearray()

    def reader() -> None:
        deadline = time.monotonic() + 60
        while len(received) < len(payload) and time.monotonic() < deadline:
            received.extend(port.read(min(4096, len(payload) - len(received))))

    thread = threading.Thread(target=reader)
    start = time.perf_counter()
    thread.start()
    for i in range(0, len(payload), chunk):
        port.write(payload[i : i + chunk])
    thread.join(70)
    return bytes(received), time.perf_counter() - start


def run_banner(port, payload: bytes = b"hello, board", status: int = 0) -> BannerSession:
    banner = parse_fields(read_line(port, b"td-banner"))
    calib = parse_fields(read_line(port, b"td-calib"))
    read_line(port, b"td-echo ready")
    echoed, seconds = echo(port, payload)
    port.write(bytes([EOT, status]))
    bye = parse_fields(read_line(port, b"td-bye"))
    return BannerSession(banner, calib, echoed, bye, seconds)
