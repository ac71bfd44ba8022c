"""SOFTMAX, LOGISTIC and TANH on emulated Cortex-M: the fixed-point code (64-bit products, CLZ, LUTs)
compiled for the board gives exactly TFLM's outputs, on both the optimized (LUT) and reference paths.

One model with the three ops side by side on one int8 input, rendered for the board, built with the device
harness and run under QEMU over the serial link.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from aotutil import single_op_tflite, tflm_outputs
from test_aot_ops_nonlinear import int8_inputs
from tinydeploy.boards import get_board
from tinydeploy.link import DeviceLink

pytestmark = [pytest.mark.qemu, pytest.mark.slow,
              pytest.mark.filterwarnings("ignore:Statistics for quantized inputs:UserWarning")]


def _three_ops(x):
    import tf_keras as keras

    return [keras.layers.Softmax()(x), keras.layers.Activation("sigmoid")(x), keras.layers.Activation("tanh")(x)]


def _build(model_path: Path, board, out: Path, optimized: bool) -> Path:
    from tinydeploy.flash.firmware import compile_firmware
    from tinydeploy.render.aot import AOT_BUILD_FLAGS, render_aot

    render_aot(model_path, board, out, optimized=optimized)
    src = out / "src"
    sources = (sorted(src.glob("*.c")) + sorted((src / "aot" / "kernels").glob("*.c"))
               + sorted((src / "harness").glob("*.c")))
    flags = [f for f in AOT_BUILD_FLAGS if not f.startswith("-O")]
    return compile_firmware(board, sources, [src, src / "aot" / "kernels", src / "harness", out / "include"],
                            out / "build", name="fw", extra_flags=flags, defines={"TD_TX_BUF": 2048})


@pytest.mark.parametrize("optimized", [True, False], ids=["optimized", "reference"])
def test_nonlinear_exact_on_qemu_m4(optimized: bool, tmp_path: Path) -> None:
    from tinydeploy.flash.qemu import QemuRunner

    board = get_board("qemu-m4")
    path = single_op_tflite(_three_ops, [(1, 2, 16)], key="nonlinear-qemu-3ops", input_range=(-6.0, 6.0))
    inputs = int8_inputs(16, 6, seed=12).reshape(-1, 2, 16)
    expected = tflm_outputs(path, [inputs])
    elf = _build(path, board, tmp_path / "fw", optimized)
    with QemuRunner(board, elf, timeout=300) as run, DeviceLink.open(run.url, timeout=5, invoke_timeout=60) as link:
        link.hello()
        for n in range(len(inputs)):
            result = link.infer([inputs[n:n + 1]])
            for k, (got, want) in enumerate(zip(result.outputs, expected)):
                got, want = np.asarray(got).reshape(-1), np.asarray(want[n]).reshape(-1)
                assert np.array_equal(got, want), (
                    f"output {k} of sample {n}: {int((got != want).sum())} values differ from TFLM")
