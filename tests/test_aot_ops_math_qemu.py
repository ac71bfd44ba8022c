"""The new math kernels on an emulated Cortex-M4: one model holding HARD_SWISH, ELU, PRELU, SUB, MAXIMUM,
MINIMUM, SQUARED_DIFFERENCE, ABS, REDUCE_MAX, SUM, ARG_MAX, LESS, SELECT_V2, CAST and, behind a DEQUANTIZE,
the float32 EXP, LOG, SQRT, RSQRT, DIV, NEG, SQUARE, CEIL, FLOOR, ROUND, HARD_SWISH and ELU, rendered for
qemu-m4, built with the device harness, run under QEMU over the serial link and compared with TFLM.

int8 outputs must be identical.  float32 outputs of the libm functions (EXP, LOG, ELU's expm1f) come from
newlib on the target and glibc in TFLM's host interpreter, so they are compared within 2 ulp and counted;
every other float32 output (IEEE-exact operations: sqrt, division, rounding, products) must be identical.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from aotutil import build_qemu_firmware, random_inputs, tflm_outputs
from aotutil_builder import OpSpec, TensorSpec, write_tflite
from tinydeploy.boards import get_board
from tinydeploy.link import DeviceLink

pytestmark = [pytest.mark.qemu, pytest.mark.slow]

SHAPE = (1, 4, 8)
LIBM_OUTPUTS = ("f_EXP", "f_LOG", "f_ELU")


def _model() -> Path:
    tensors: list[TensorSpec] = []
    ops: list[OpSpec] = []
    outputs: list[int] = []

    def t(shape, dtype, q=None, data=None, name="") -> int:
        tensors.append(TensorSpec(shape, dtype, data=data, scale=None if q is None else q[0],
                                  zero_point=0 if q is None else q[1], name=name))
        return len(tensors) - 1

    def op(opcode, ins, shape, dtype, q=None, options=None, output=True) -> int:
        y = t(shape, dtype, q, name=f"{'f_' if dtype == 'float32' else ''}{opcode}")
        ops.append(OpSpec(opcode, ins, [y], options or {}))
        if output:
            outputs.append(y)
        return y

    q = (0.05, -3)
    x = t(SHAPE, "int8", q, name="x")
    alpha = t((8,), "int8", (0.01, 0), data=np.arange(-40, 40, 10, dtype=np.int8))
    hs = op("HARD_SWISH", [x], SHAPE, "int8", (0.03, -100))
    elu = op("ELU", [x], SHAPE, "int8", (0.04, 20))
    pr = op("PRELU", [x, alpha], SHAPE, "int8", (0.045, 5))
    op("SUB", [x, hs], SHAPE, "int8", (0.07, 2), {"fused_activation_function": "NONE"})
    op("MAXIMUM", [x, x], SHAPE, "int8", q)
    op("MINIMUM", [x, x], SHAPE, "int8", q)
    op("SQUARED_DIFFERENCE", [x, pr], SHAPE, "int8", (0.4, -128))
    op("ABS", [x], SHAPE, "int8", (0.03, -128))
    op("REDUCE_MAX", [x, t((1,), "int32", data=np.array([2], np.int32))], (1, 4), "int8", q)
    op("SUM", [x, t((1,), "int32", data=np.array([1], np.int32))], (1, 8), "int8", (0.2, 0))
    op("ARG_MAX", [x, t((1,), "int32", data=np.array([-1], np.int32))], (1, 4), "int32")
    less = op("LESS", [x, elu], SHAPE, "bool", output=False)
    op("SELECT_V2", [less, x, t(SHAPE, "int8", q, data=np.full(SHAPE, 7, np.int8))], SHAPE, "int8", q)
    op("CAST", [x], SHAPE, "int32")
    xf = op("DEQUANTIZE", [x], SHAPE, "float32", output=False)
    ab = op("ABS", [xf], SHAPE, "float32", output=False)
    for name in ("EXP", "NEG", "SQUARE", "CEIL", "FLOOR", "ROUND", "HARD_SWISH", "ELU"):
        op(name, [xf], SHAPE, "float32")
    for name in ("LOG", "SQRT", "RSQRT"):
        op(name, [ab], SHAPE, "float32")
    op("DIV", [xf, t((8,), "float32", data=np.linspace(-3, 3, 8).astype(np.float32) + 0.25)], SHAPE, "float32",
       options={"fused_activation_function": "NONE"})
    return write_tflite(tensors, ops, [x], outputs)


def _ulp_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ia = a.astype(np.float32).view(np.int32).astype(np.int64)
    ib = b.astype(np.float32).view(np.int32).astype(np.int64)
    ia = np.where(ia < 0, -(1 << 31) - ia, ia)
    ib = np.where(ib < 0, -(1 << 31) - ib, ib)
    return np.abs(ia - ib)


def test_math_ops_exact_on_qemu_m4(tmp_path: Path) -> None:
    from tinydeploy.flash.qemu import QemuRunner
    from tinydeploy.model.graph import load_model

    board = get_board("qemu-m4")
    path = _model()
    names = [t.name for t in load_model(path).output_tensors]
    inputs = random_inputs(path, 4, seed=5)[0]
    expected = tflm_outputs(path, [inputs])
    elf = build_qemu_firmware(path, board, tmp_path / "fw", tx_buf=4096, optimized=True)
    libm_ulps: dict[str, int] = {}
    with QemuRunner(board, elf, timeout=300) as run, DeviceLink.open(run.url, timeout=5, invoke_timeout=60) as link:
        link.hello()
        for n in range(len(inputs)):
            result = link.infer([inputs[n:n + 1]])
            for k, (got, want) in enumerate(zip(result.outputs, expected)):
                got, want = np.asarray(got).reshape(-1), np.asarray(want[n]).reshape(-1)
                if names[k] in LIBM_OUTPUTS:
                    ulps = int(_ulp_distance(got, want).max())
                    libm_ulps[names[k]] = max(libm_ulps.get(names[k], 0), ulps)
                    assert ulps <= 2, f"{names[k]} sample {n}: {ulps} ulp from TFLM"
                    continue
                assert np.array_equal(got.view(np.uint8), want.astype(got.dtype).view(np.uint8)), (
                    f"{names[k]} of sample {n}: {int((got != want).sum())} values differ from TFLM")
    print("libm outputs, max ulp from TFLM's glibc results:", libm_ulps)
