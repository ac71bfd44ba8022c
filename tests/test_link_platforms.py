"""The harness on the firmware-base platforms: the native board (a host process, socket link) and an
emulated Cortex-M4 under QEMU (UART on socket://), with the fake runtime from tests/fixtures/harness/."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from tinydeploy.link import DeviceLink

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "harness"))
from fakedev import FakeModel, FakeTensor, build_for_board  # noqa: E402

MODEL = FakeModel(inputs=[FakeTensor((1, 1200))], outputs=[FakeTensor((1, 10)), FakeTensor((1, 600))])


def run_three(url: str) -> DeviceLink:
    link = DeviceLink.open(url, timeout=2.0, invoke_timeout=20.0)
    rng = np.random.default_rng(0)
    for _ in range(3):
        x = [rng.integers(-128, 128, (1, 1200), dtype=np.int8)]
        result = link.infer(x)
        for got, want in zip(result.outputs, MODEL.expected(x)):
            np.testing.assert_array_equal(got, want)
    return link


def test_native_board(tmp_path):
    from tinydeploy.flash.native import NativeRunner

    exe = build_for_board(MODEL, "native", tmp_path)
    with NativeRunner(exe, timeout=30) as run:
        link = run_three(run.url)
        assert (link.info.board, link.info.latency_unit) == ("native", "ns")
        link.close()


@pytest.mark.qemu
def test_qemu_m4(tmp_path):
    from tinydeploy.flash.qemu import QemuRunner

    elf = build_for_board(MODEL, "qemu-m4", tmp_path)
    with QemuRunner("qemu-m4", elf, timeout=60) as run:
        link = run_three(run.url)
        info = link.info
        assert (info.board, info.runtime, info.counter_unit, info.latency_unit) == \
            ("qemu-m4", "fake", "instructions", "instructions")
        assert info.clock_hz == 25_000_000
        result = link.infer([np.zeros((1, 1200), np.int8)])
        assert result.unit == "instructions" and result.latency > 1200  # the fake loops over 1200 bytes
        assert 0 < result.stack_bytes < 4096
        assert link.retries == 0 and link.stats.reboots == 0
        link.close()
