"""SOFTMAX, LOGISTIC and TANH on emulated Cortex-M: the fixed-point code (64-bit products, CLZ, LUTs)
compiled for the board gives exactly TFLM's outputs, on both the optimized (LUT) and reference paths.

One model with the three ops side by side on one int8 input, rendered for the board, built with the device
harness and run under QEMU over the serial link.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from aotutil import assert_exact_on_qemu, build_qemu_firmware, single_op_tflite
from test_aot_ops_nonlinear import int8_inputs
from tinydeploy.boards import get_board

pytestmark = [pytest.mark.qemu, pytest.mark.slow,
              pytest.mark.filterwarnings("ignore:Statistics for quantized inputs:UserWarning")]


def _three_ops(x):
    import tf_keras as keras

    return [keras.layers.Softmax()(x), keras.layers.Activation("sigmoid")(x), keras.layers.Activation("tanh")(x)]


@pytest.mark.parametrize("optimized", [True, False], ids=["optimized", "reference"])
def test_nonlinear_exact_on_qemu_m4(optimized: bool, tmp_path: Path) -> None:
    board = get_board("qemu-m4")
    path = single_op_tflite(_three_ops, [(1, 2, 16)], key="nonlinear-qemu-3ops", input_range=(-6.0, 6.0))
    inputs = int8_inputs(16, 6, seed=12).reshape(-1, 2, 16)
    elf = build_qemu_firmware(path, board, tmp_path / "fw", optimized=optimized)
    assert_exact_on_qemu(board, elf, path, [inputs], invoke_timeout=60)
