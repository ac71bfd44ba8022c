"""The optimized core kernels on emulated Cortex-M: the real DSP instructions (SXTB16/SMLAD on the M4) and
Helium (VMLADAVA on the M55) give exactly TFLM's outputs.

Randomized CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED cases (the generators of test_aot_core) in one
model, rendered for the board, built with the device harness and run under QEMU over the serial link.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from aotutil import random_inputs, tflm_outputs
from test_aot_core import Cases, _conv_like_case, _fc_case
from tinydeploy.boards import get_board
from tinydeploy.link import DeviceLink

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


def _build(model_path: Path, board, out: Path) -> Path:
    from tinydeploy.flash.firmware import compile_firmware
    from tinydeploy.render.aot import AOT_BUILD_FLAGS, render_aot

    render_aot(model_path, board, out)
    src = out / "src"
    sources = (sorted(src.glob("*.c")) + sorted((src / "aot" / "kernels").glob("*.c"))
               + sorted((src / "harness").glob("*.c")))
    flags = [f for f in AOT_BUILD_FLAGS if not f.startswith("-O")]
    return compile_firmware(board, sources, [src, src / "aot" / "kernels", src / "harness", out / "include"],
                            out / "build", name="fw", extra_flags=flags, defines={"TD_TX_BUF": 2048})


@pytest.mark.parametrize("board_id", ["qemu-m4", "qemu-m55"])
def test_optimized_kernels_exact_on_qemu(board_id: str, tmp_path: Path) -> None:
    from tinydeploy.flash.qemu import QemuRunner

    board = get_board(board_id)
    path = _random_model(900)
    elf = _build(path, board, tmp_path / "fw")
    samples = 3
    batches = random_inputs(path, samples, seed=1)
    expected = tflm_outputs(path, batches)
    with QemuRunner(board, elf, timeout=300) as run, DeviceLink.open(run.url, timeout=5, invoke_timeout=120) as link:
        link.hello()
        for n in range(samples):
            result = link.infer([b[n:n + 1] for b in batches])
            for k, (got, want) in enumerate(zip(result.outputs, expected)):
                want = want[n].reshape(-1)
                got = np.asarray(got).reshape(-1)
                assert np.array_equal(got, want), (
                    f"{board_id}: output {k} of sample {n}: {int((got != want).sum())} values differ, "
                    f"max |diff| {int(np.abs(got.astype(int) - want.astype(int)).max())} LSB")
