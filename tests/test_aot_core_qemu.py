"""The optimized core kernels on emulated Cortex-M: the real DSP instructions (SXTB16/SMLAD on the M4) and
Helium (VMLADAVA on the M55) give exactly TFLM's outputs.

Randomized CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED cases (the generators of test_aot_core) in one
model, rendered for the board, built with the device harness and run under QEMU over the serial link.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from aotutil import assert_exact_on_qemu, build_qemu_firmware, random_inputs
from test_aot_core import Cases, _conv_like_case, _fc_case
from tinydeploy.boards import get_board

pytestmark = [pytest.mark.qemu, pytest.mark.slow]


def _random_model(seed: int) -> Path:
    rng = np.random.default_rng(seed)
    c = Cases()
    for i in range(12):
        kind = i % 3
        if kind == 2:
            _fc_case(c, rng, floating=False)
        else:
            _conv_like_case(c, rng, depthwise=bool(kind), floating=False)
    return c.write()


@pytest.mark.parametrize("board_id", ["qemu-m4", "qemu-m55"])
def test_optimized_kernels_exact_on_qemu(board_id: str, tmp_path: Path) -> None:
    board = get_board(board_id)
    path = _random_model(900)
    elf = build_qemu_firmware(path, board, tmp_path / "fw")
    assert_exact_on_qemu(board, elf, path, random_inputs(path, 3, seed=1))
