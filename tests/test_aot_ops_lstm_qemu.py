"""UNIDIRECTIONAL_SEQUENCE_LSTM on an emulated Cortex-M4: the int8 LSTM (int16 cell, table sigmoid/tanh,
gemmlowp requantization) compiled for the board gives exactly TFLM's outputs, several samples one after the
other over the serial link (each invoke starts from a zero state, as each TFLM sample after reset())."""

from __future__ import annotations

from pathlib import Path

import pytest

from aotutil import assert_exact_on_qemu, build_qemu_firmware, random_inputs
from test_aot_ops_lstm import _model
from tinydeploy.boards import get_board

pytestmark = [pytest.mark.qemu, pytest.mark.slow, pytest.mark.filterwarnings("ignore::UserWarning")]


def test_stacked_lstm_int8_exact_on_qemu_m4(tmp_path: Path) -> None:
    board = get_board("qemu-m4")
    path = _model("stacked", True)
    inputs = random_inputs(path, 4, seed=9)[0]
    elf = build_qemu_firmware(path, board, tmp_path / "fw", optimized=True)
    assert_exact_on_qemu(board, elf, path, [inputs], invoke_timeout=60)
