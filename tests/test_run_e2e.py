"""`deploy run`, `deploy flash`/`verify` and `deploy demo` end to end, through the CLI as a user runs them:
real render, real PlatformIO build, real QEMU (or native process), real serial byte stream, real TFLM
reference.  The device must match the TFLM host interpreter on every output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tinydeploy.cli import main

pytestmark = [pytest.mark.qemu, pytest.mark.slow]

# Every board family once with the demo model; the other test models on the fast boards.
CASES = [
    ("native", "digits_cnn"), ("native", "act_mix"), ("native", "residual_add"), ("native", "kws_tiny"),
    ("qemu-m4", "digits_cnn"), ("qemu-m4", "act_mix"), ("qemu-m4", "mobilenet_tiny"),
    ("qemu-m33", "digits_cnn"), ("qemu-m33", "residual_add"),
    ("qemu-m55", "digits_cnn"), ("qemu-m55", "kws_tiny"),
]


def zoo_model(name: str) -> Path:
    from tinydeploy import zoo

    return zoo.tflite_model(name, "int8")


def report_of(path: Path) -> dict:
    return json.loads(path.read_text())


@pytest.mark.parametrize(("board", "model"), CASES)
def test_run_is_exact(board: str, model: str, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    code = main(["run", str(zoo_model(model)), "--board", board, "-n", "12", "--no-litert", "--report", str(report)])
    assert code == 0
    data = report_of(report)
    assert data["board"] == board and data["runtime"] == "aot" and data["n_inputs"] == 12
    assert data["fidelity"]["tflm"]["exact_match_rate"] == 1.0
    assert data["fidelity"]["tflm"]["max_abs_diff_lsb"] == 0
    assert data["latency"]["unit"] == ("ns" if board == "native" else "instructions")
    assert data["latency"]["min"] > 0 and data["memory"]["arena_bytes"] > 0


def test_flash_then_verify_then_stop(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = zoo_model("residual_add")
    assert main(["flash", str(model), "--board", "qemu-m4"]) == 0
    try:
        report = tmp_path / "r.json"
        assert main(["verify", "--board", "qemu-m4", "-n", "6", "--no-litert", "--report", str(report)]) == 0
        assert report_of(report)["fidelity"]["tflm"]["exact_match_rate"] == 1.0
        # The firmware runs residual_add: verifying another model against it is refused, with the reason.
        capsys.readouterr()
        assert main(["verify", "--board", "qemu-m4", "--model", str(zoo_model("digits_cnn")), "-n", "2"]) == 2
        assert "refusing to compare" in capsys.readouterr().err
    finally:
        assert main(["flash", "--board", "qemu-m4", "--stop"]) == 0
    capsys.readouterr()
    assert main(["verify", "--board", "qemu-m4"]) == 2
    assert "no firmware is running for qemu-m4" in capsys.readouterr().err


def test_demo_matches_host_accuracy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "demo.json"
    assert main(["demo", "--report", str(report), "--html", str(tmp_path / "demo.html")]) == 0
    data = report_of(report)
    assert data["n_inputs"] == 359  # the whole test split of scikit-learn's digits
    assert data["fidelity"]["tflm"]["exact_match_rate"] == 1.0
    assert data["fidelity"]["device_accuracy"] >= 0.9
    assert "on-device accuracy" in capsys.readouterr().out
    assert "<svg" in (tmp_path / "demo.html").read_text()
