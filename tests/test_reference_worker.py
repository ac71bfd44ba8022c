"""Host references that crash (issues 12 and 16): TFLM's host interpreter aborts (SIGABRT from a check in a
kernel's Prepare) on some models; it runs in a worker process, so the crash is one line naming the op and
`deploy run` still writes its report.

The crashing model is real: an int8 SOFTMAX whose input scale is below what TFLM's PreprocessSoftmaxScaling
accepts (beta * scale * 2^26 <= 1).  aot refuses that model at generation time (so `deploy run` of it stops
before any reference); the report path is exercised by a run of a sound model whose TFLM reference is
pointed at the crashing one.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from aotutil_builder import OpSpec, TensorSpec, write_tflite
from tinydeploy import cli
from tinydeploy.reference.backends import run_reference
from tinydeploy.reference.worker import ReferenceCrash

pytest.importorskip("tflite_micro")


def _softmax(input_scale: float) -> Path:
    return write_tflite(tensors=[TensorSpec((1, 10), "int8", scale=input_scale, zero_point=0),
                                 TensorSpec((1, 10), "int8", scale=1 / 256, zero_point=-128)],
                        ops=[OpSpec("SOFTMAX", [0], [1], {"beta": 1.0})], inputs=[0], outputs=[1])


def test_tflm_abort_is_a_one_line_error_naming_the_op() -> None:
    inputs = np.zeros((2, 10), dtype=np.int8)
    with pytest.raises(ReferenceCrash) as caught:
        run_reference("tflm", _softmax(1e-9), inputs)
    err = caught.value
    assert err.signal == "SIGABRT" and err.backend == "tflm"
    assert err.op is not None and "SOFTMAX" in err.op
    assert "\n" not in err.message and "crashed with SIGABRT" in err.message
    assert "input scale 1e-09" in err.message


def test_aot_refuses_the_model_tflm_aborts_on_without_sending_the_user_to_tflm(capsys) -> None:
    status = cli.main(["render", str(_softmax(1e-9)), "--board", "native", "--runtime", "aot", "-o", "/dev/null/x"])
    err = capsys.readouterr().err
    assert status == 2 and "Traceback" not in err
    assert "SOFTMAX" in err and "aborts in Prepare on it too" in err and "--runtime tflm" not in err


def test_run_keeps_its_report_when_the_reference_crashes(tmp_path: Path, capsys, monkeypatch) -> None:
    import tinydeploy.verify.core as core

    crashing = _softmax(1e-9)
    real = core.run_reference

    def reference_of_the_crashing_model(backend, model, batches, **kwargs):
        return real(backend, crashing if backend == "tflm" else model, batches, **kwargs)

    monkeypatch.setattr(core, "run_reference", reference_of_the_crashing_model)
    report = tmp_path / "report.json"
    status = cli.main(["run", str(_softmax(0.05)), "--board", "native", "-n", "3", "--no-litert",
                       "--report", str(report)])
    err = capsys.readouterr().err
    lines = [line for line in err.strip().splitlines() if line.startswith("error: ")]
    assert status != 0 and len(lines) == 1 and "Traceback" not in err, err
    assert "crashed with SIGABRT" in lines[0] and "SOFTMAX" in lines[0]
    saved = json.loads(report.read_text())
    assert "reference failed" in json.dumps(saved)
