"""Link throughput and payload efficiency of the tinydeploy serial protocol.

1. Payload efficiency (tensor bytes / all bytes on the wire, both directions) for 1 KB+ inputs, on the
   harness built for the host with the fake runtime (tests/fixtures/harness/), target >= 90 %.
2. Under QEMU (qemu-m4): inference stream throughput (tensor bytes per second through DeviceLink.infer)
   against the emulated UART's own echo throughput (firmware/app/banner.c echoing raw bytes), target
   >= 80 %.

    .venv/bin/python bench/link_throughput.py [--no-qemu] [--seconds 3]

Prints both ratios.  Uses the fake runtime so the figures are the link's, not a model's.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "fixtures" / "harness"))
from fakedev import FakeDevice, FakeModel, FakeTensor, build, build_for_board  # noqa: E402

from tinydeploy.link import DeviceLink  # noqa: E402

OUTPUT_BYTES = 10  # a classifier's scores: small output, the input dominates


def efficiency(tmp: Path) -> None:
    print("payload efficiency (host build, pty link, 512 B receive buffer):")
    for size in (1024, 2048, 4096, 16384):
        model = FakeModel(inputs=[FakeTensor((1, size))], outputs=[FakeTensor((1, OUTPUT_BYTES))])
        exe = build(model, tmp / f"eff{size}")
        with FakeDevice(exe) as dev, DeviceLink.open(dev.url, timeout=2.0) as link:
            before = link.transport.bytes_written + link.transport.bytes_read
            x = [np.random.default_rng(0).integers(-128, 128, (1, size), dtype=np.int8)]
            for _ in range(10):
                link.infer(x)
            raw = link.transport.bytes_written + link.transport.bytes_read - before
            ratio = 10 * (size + OUTPUT_BYTES) / raw
            print(f"  input {size:6d} B + output {OUTPUT_BYTES} B: {ratio * 100:5.1f} %  "
                  f"({'ok' if ratio >= 0.9 else 'BELOW 90 %'})")


def echo_rate(tmp: Path, seconds: float) -> float:
    """Bytes per second the emulated UART echoes (each byte in and back out)."""
    from tinydeploy.flash.firmware import compile_firmware
    from tinydeploy.flash.qemu import QemuRunner

    elf = compile_firmware("qemu-m4", [ROOT / "firmware" / "app" / "banner.c"], [], tmp / "echo", name="banner")
    with QemuRunner("qemu-m4", elf, timeout=120) as run:
        host, port = run.url[len("socket://"):].rsplit(":", 1)
        sock = socket.create_connection((host, int(port)), timeout=10)
        buf = b""
        while b"td-echo ready\n" not in buf:
            buf += sock.recv(4096)
        payload = bytes(b for b in np.random.default_rng(1).integers(32, 127, int(20000 * seconds), dtype=np.uint8))

        def send() -> None:
            for i in range(0, len(payload), 256):
                sock.sendall(payload[i : i + 256])

        start = time.monotonic()
        writer = threading.Thread(target=send, daemon=True)
        writer.start()
        got = 0
        while got < len(payload):
            data = sock.recv(65536)
            if not data:
                break
            got += len(data)
        elapsed = time.monotonic() - start
        writer.join(5)
        sock.sendall(b"\x04\x00")
        sock.close()
        return got / elapsed


def stream_rate(tmp: Path, seconds: float, size: int) -> tuple[float, float]:
    """(tensor bytes per second through infer(), payload efficiency) under QEMU."""
    from tinydeploy.flash.qemu import QemuRunner

    model = FakeModel(inputs=[FakeTensor((1, size))], outputs=[FakeTensor((1, OUTPUT_BYTES))])
    elf = build_for_board(model, "qemu-m4", tmp / f"stream{size}")
    with QemuRunner("qemu-m4", elf, timeout=120) as run:
        with DeviceLink.open(run.url, timeout=5.0, invoke_timeout=30.0) as link:
            x = [np.random.default_rng(0).integers(-128, 128, (1, size), dtype=np.int8)]
            link.infer(x)  # warm up
            before = link.transport.bytes_written + link.transport.bytes_read
            count, start = 0, time.monotonic()
            while time.monotonic() - start < seconds:
                link.infer(x)
                count += 1
            elapsed = time.monotonic() - start
            raw = link.transport.bytes_written + link.transport.bytes_read - before
            return count * (size + OUTPUT_BYTES) / elapsed, count * (size + OUTPUT_BYTES) / raw


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-qemu", action="store_true", help="skip the QEMU throughput comparison")
    parser.add_argument("--seconds", type=float, default=3.0, help="measuring time per QEMU figure")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="td-bench-link-") as tmp_name:
        tmp = Path(tmp_name)
        efficiency(tmp)
        if args.no_qemu:
            return
        load = os.getloadavg()[0]
        print(f"(load average {load:.1f} on {os.cpu_count()} cores: QEMU figures scale with free CPU; "
              "compare the ratios, which are measured back to back)")
        echo = echo_rate(tmp, args.seconds)
        print(f"qemu-m4 UART echo: {echo / 1024:.1f} KB/s (each byte in and back out)")
        for size in (1024, 4096):
            rate, eff = stream_rate(tmp, args.seconds, size)
            ratio = rate / echo
            print(f"qemu-m4 inference stream, {size} B in + {OUTPUT_BYTES} B out: {rate / 1024:.1f} KB/s = "
                  f"{ratio * 100:.0f} % of echo ({'ok' if ratio >= 0.8 else 'BELOW 80 %'}), "
                  f"payload efficiency {eff * 100:.1f} %")


if __name__ == "__main__":
    main()
