"""UNIDIRECTIONAL_SEQUENCE_LSTM on an emulated Cortex-M4: the int8 LSTM (int16 cell, table sigmoid/tanh,
gemmlowp requantization) compiled for the board gives exactly TFLM's outputs, several samples one after the
other over the serial link (each invoke starts from a zero state, as each TFLM sample after reset())."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from aotutil import random_inputs, tflm_outputs
from test_aot_ops_lstm import _model
from test_aot_ops_nonlinear_qemu import _build
from tinydeploy.boards import get_board
from tinydeploy.link import DeviceLink

pytestmark = [pytest.mark.qemu, pytest.mark.slow, pytest.mark.filterwarnings("ignore::UserWarning")]


def test_stacked_lstm_int8_exact_on_qemu_m4(tmp_path: Path) -> None:
    from tinydeploy.flash.qemu import QemuRunner

    board = get_board("qemu-m4")
    path = _model("stacked", True)
    inputs = random_inputs(path, 4, seed=9)[0]
    expected = tflm_outputs(path, [inputs])[0]
    elf = _build(path, board, tmp_path / "fw", True)
    with QemuRunner(board, elf, timeout=300) as run, DeviceLink.open(run.url, timeout=5, invoke_timeout=60) as link:
        link.hello()
        for n in range(len(inputs)):
            got = np.asarray(link.infer([inputs[n:n + 1]]).outputs[0]).reshape(-1)
            want = np.asarray(expected[n]).reshape(-1)
            assert np.array_equal(got, want), f"sample {n}: {int((got != want).sum())} values differ from TFLM"
