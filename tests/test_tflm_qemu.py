"""The tflm sketch built with a local TFLM tree and verified on the emulated Cortex-M4 (qemu-m4).

TFLM's sources are not part of this repository and cannot be downloaded here: the tests run only when
TFLM_PATH names a local tree (create_tflm_tree.py output or the Arduino library's src/), and are skipped with
that reason otherwise.  test_tflm_standin_qemu.py runs the same path against a stand-in of the Arduino library.
The first build compiles TFLM (~700 s on 2 cores); the other models link the cached library.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from tinydeploy.boards import get_board
from tinydeploy.model.graph import load_model
from tinydeploy.render.tflm import render_tflm

pytestmark = [
    pytest.mark.qemu,
    pytest.mark.slow,
    pytest.mark.skipif(not os.environ.get("TFLM_PATH"),
                       reason="TFLM_PATH is not set: TFLite Micro's sources are needed to build the tflm sketch "
                              "(point it at a create_tflm_tree.py tree or the TFLM Arduino library's src/)"),
]


def test_tflm_sketch_on_qemu_m4(tmp_path):
    zoo = pytest.importorskip("tinydeploy.zoo")
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime")
    from tinydeploy.build.pio import build_project
    from tinydeploy.flash.qemu import QemuRunner
    from tinydeploy.link.client import DeviceLink

    board = get_board("qemu-m4")
    model_path = zoo.tflite_model("residual_add", "int8")
    model = load_model(model_path)
    result = render_tflm(model_path, board, tmp_path / "project")
    build = build_project(result.project_dir, board, timeout=1800)

    sample = zoo.sample_inputs("residual_add", 1)
    spec = model.input_tensors[0]
    scale, zero = float(spec.quant.scale[0]), int(spec.quant.zero_point[0])
    x = np.clip(np.round(sample / scale) + zero, -128, 127).astype(np.int8).reshape(spec.shape)

    with QemuRunner(board, build.elf, timeout=300) as run:
        with DeviceLink.open(run.url, timeout=10) as link:
            info = link.info
            assert info.runtime == "tflm" and info.runtime_status == 0, info.runtime_error
            assert info.model_sha256 == model.sha256
            assert info.arena_bytes == result.arena_bytes
            # HELLO confirms the host-side sizing: the device used no more than the estimate before the margin
            # plus what the margin is for, and never more than the arena.
            assert 0 < info.arena_used_bytes <= info.arena_bytes
            got = link.infer([x]).outputs[0]

    interp = runtime.Interpreter.from_bytes(model.raw)
    interp.set_input(x, 0)
    interp.invoke()
    np.testing.assert_array_equal(got.reshape(-1), interp.get_output(0).reshape(-1))


@pytest.mark.parametrize("name", ["ds_cnn", "mobilenet_v1_025", "resnet8", "fc_autoencoder", "digits_cnn"])
def test_deploy_run_mlperf_tiny_shapes(tmp_path, name):
    """`TFLM_PATH=<tree> deploy run MODEL --runtime tflm --board qemu-m4`: exact against TFLM's host interpreter."""
    import json

    zoo = pytest.importorskip("tinydeploy.zoo")
    from tinydeploy.cli import main

    report = tmp_path / "report.json"
    code = main(["run", str(zoo.tflite_model(name, "int8")), "--runtime", "tflm", "--board", "qemu-m4", "-n", "8",
                 "--no-litert", "--report", str(report), "--build-timeout", "1800"])
    assert code == 0
    data = json.loads(report.read_text())
    assert data["runtime"] == "tflm" and data["fidelity"]["tflm"]["exact_match_rate"] == 1.0
