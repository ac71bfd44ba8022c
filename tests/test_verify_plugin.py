"""The pytest plugin's deployed_model.infer(): real (dequantized) outputs by default, the device's stored
values with raw=True, on the native board from an ordinary test suite."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points

from test_verify_metrics import fc_model

INNER = '''
import numpy as np
from tinydeploy.reference import dequantize_output, quantize_input, run_reference

def test_infer_is_dequantized(deployed_model):
    x = np.linspace(-1, 1, 16, dtype=np.float32)
    real, raw = deployed_model.infer(x), deployed_model.infer(x, raw=True)
    out = deployed_model.model.output_tensors[0]
    assert real.output.dtype == np.float32 and raw.output.dtype == np.int8
    assert np.array_equal(real.raw_outputs[0], raw.output)
    assert np.allclose(real.output, out.quant.scale[0] * (raw.output.astype(np.float32) - out.quant.zero_point[0]))
    q = quantize_input(x[None], deployed_model.model.input_tensors[0])
    expected = dequantize_output(run_reference("tflm", deployed_model.firmware.model_path, [q])[0], out)
    assert np.array_equal(real.output.reshape(expected.shape), expected)
    assert real.unit == "ns" and real.latency > 0


def test_verify_holds_the_arena_and_scores_labels(deployed_model):
    x = np.random.default_rng(0).uniform(-1, 1, (10, 16)).astype(np.float32)
    report = deployed_model.verify(x, np.arange(10) % 4)
    assert report.memory["arena_estimate_bytes"] == report.memory["arena_used_bytes"] > 0
    assert "memory.arena_used_bytes" in [c.name for c in report.checks] and report.passed
    assert report.outputs[0]["labels"]["device"]["n_classes"] == 4
'''


def test_fixture_infer_returns_real_values_and_raw_on_request(tmp_path):
    (tmp_path / "test_inner.py").write_text(INNER)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    installed = any(e.value == "tinydeploy.rig.pytest_plugin" for e in entry_points(group="pytest11"))
    cmd = [sys.executable, "-m", "pytest", "-c", str(tmp_path / "pytest.ini"), "-p", "no:cacheprovider",
           *([] if installed else ["-p", "tinydeploy.rig.pytest_plugin"]), "-q", "test_inner.py", "--tinydeploy-board", "native",
           "--tinydeploy-model", str(fc_model(16, 4))]
    result = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=180)
    assert "2 passed" in result.stdout, result.stdout[-3000:] + result.stderr[-2000:]
