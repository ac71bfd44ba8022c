"""deploy verify end to end on the emulated Cortex-M4: a zoo model rendered by the aot runtime, built
with the harness, run under QEMU, compared with the real TFLM/LiteRT references."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tinydeploy.boards import get_board
from tinydeploy.link import DeviceLink
from tinydeploy.verify import verify_model, write_reports

sys.path.insert(0, str(Path(__file__).parent))

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


def test_run_reports_a_regression_head_with_labels_on_qemu_m4(tmp_path, capsys):
    """deploy run on the emulated Cortex-M4, as a user runs it: the fit line from the real build, targets
    scored in real units, latency in instructions, the arena estimate held against the device's figure."""
    import numpy as np

    from test_verify_metrics import fc_model
    from tinydeploy.cli import main

    x = np.random.default_rng(5).uniform(-1, 1, (16, 8)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", x.sum(axis=1).astype(np.float32))
    assert main(["run", str(fc_model(8, 1)), "--board", "qemu-m4", "--inputs", str(tmp_path / "x.npy"),
                 "--labels", str(tmp_path / "y.npy"), "--no-litert", "--report", str(tmp_path / "r.json"),
                 "--save-outputs", str(tmp_path / "o.npz")]) == 0
    out = capsys.readouterr().out
    assert "fit: needs " in out and "qemu-m4 has 4 MB: fits" in out and "(built)" in out
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["latency"]["unit"] == "instructions" and data["fidelity"]["tflm"]["exact_match_rate"] == 1.0
    assert data["outputs"][0]["labels"]["device"]["rmse"] > 0 and data["outputs"][0]["task"] == "regression"
    assert data["memory"]["arena_estimate_bytes"] == data["memory"]["arena_used_bytes"] > 0
    assert len(np.load(tmp_path / "o.npz")["device_0"]) == 16
