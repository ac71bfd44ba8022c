"""deploy verify end to end on the emulated Cortex-M4: a zoo model rendered by the aot runtime, built
with the harness, run under QEMU, compared with the real TFLM/LiteRT references."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tinydeploy.boards import get_board
from tinydeploy.link import DeviceLink
from tinydeploy.verify import verify_model, write_reports

pytestmark = [pytest.mark.qemu, pytest.mark.slow]


def build_aot(model_path: Path, board, out: Path) -> Path:
    from tinydeploy.flash.firmware import compile_firmware
    from tinydeploy.render.aot import render_aot

    render_aot(model_path, board, out)
    src = out / "src"
    sources = sorted(src.glob("*.c")) + sorted((src / "aot" / "kernels").glob("*.c")) + sorted((src / "harness").glob("*.c"))
    return compile_firmware(board, sources, [src, src / "aot" / "kernels", src / "harness"], out / "build", name="fw")


def test_aot_model_verifies_exactly_on_qemu_m4(tmp_path):
    zoo = pytest.importorskip("tinydeploy.zoo")
    from tinydeploy.flash.qemu import QemuRunner

    board = get_board("qemu-m4")
    model_path = zoo.tflite_model("residual_add", "int8")
    elf = build_aot(model_path, board, tmp_path / "fw")
    x = zoo.sample_inputs("residual_add", 8, seed=0)
    with QemuRunner(board, elf, timeout=300) as run, DeviceLink.open(run.url, timeout=5, invoke_timeout=60) as link:
        report = verify_model(link, model_path, x, board=board, progress=False, firmware=elf)
    report.check()
    data = json.loads(write_reports(report, json_path=tmp_path / "r.json")[0].read_text())
    assert data["fidelity"]["tflm"]["exact_match_rate"] == 1.0 and data["n_inputs"] == 8
    assert data["latency"]["unit"] == "instructions" and data["latency"]["label"] == "instructions (emulated)"
    assert data["latency"]["min"] > 1000
    assert data["memory"]["flash_bytes"] > 0 and data["memory"]["stack_bytes"] > 0
    assert data["runtime"] == "aot" and data["link"]["retries"] == 0
