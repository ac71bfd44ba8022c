"""`deploy run MODEL --board qemu-m4 --layers=outputs` through the CLI: real render with -DTD_LAYERS, real
PlatformIO build, real QEMU, real link: the per-layer table is printed (instructions, instructions/MAC,
share) and every layer's output on the Cortex-M4 kernels matches TFLM's intermediate tensors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tinydeploy.cli import main

from test_layers import small_cnn
from aotutil import single_op_tflite

pytestmark = [pytest.mark.qemu, pytest.mark.slow]


def test_run_with_layers_prints_the_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = single_op_tflite(small_cnn, [(1, 12, 12, 2)], key="test_layers-small-cnn-v1")
    report = tmp_path / "report.json"
    code = main(["run", str(model), "--board", "qemu-m4", "-n", "3", "--no-litert", "--layers=outputs",
                 "--report", str(report), "--html", str(tmp_path / "report.html")])
    out = capsys.readouterr().out
    assert code == 0
    assert "per-layer latency (aot, instructions (emulated))" in out
    assert "instr/MAC" in out and "DEPTHWISE_CONV_2D" in out and "share" in out
    assert "every layer output matches TFLM bit for bit (7 layers)" in out.replace("\n", " ")
    layers = json.loads(report.read_text())["layers"]
    assert layers["unit"] == "instructions" and layers["runtime"] == "aot" and len(layers["layers"]) == 7
    assert all(row["latency"] > 0 for row in layers["layers"])
    # QEMU counts instructions exactly: the layers add up to the whole inference but for the harness's hooks.
    assert 0 < layers["outside_layers"] < 0.01 * layers["invoke_latency"]
    assert "latency per layer" in (tmp_path / "report.html").read_text()
