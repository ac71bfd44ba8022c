"""aot RESIZE_NEAREST_NEIGHBOR and RESIZE_BILINEAR bit-exact with the TFLite Micro interpreter.

Randomized up- and down-scaling (integer and fractional factors, 1-pixel edges) with every option combination
(plain, align_corners, half_pixel_centers), int8, int16 and float32, many cases per model as in
test_aot_ops_shape; plus Keras UpSampling2D (nearest and bilinear) converted by the TFLite converter.
"""

from __future__ import annotations

import numpy as np
import pytest

from aotutil import assert_bitexact_with_tflm, random_inputs, single_op_tflite
from test_aot_ops_shape import Cases, quant_for, run_cases

MODES = [{}, {"align_corners": True}, {"half_pixel_centers": True}]


def _resize_case(opcode: str):
    def add(c: Cases, rng: np.random.Generator, dtype: str) -> None:
        n, ch = int(rng.integers(1, 3)), int(rng.integers(1, 4))
        ih, iw = int(rng.integers(1, 7)), int(rng.integers(1, 7))
        oh, ow = int(rng.integers(1, 13)), int(rng.integers(1, 13))
        mode = MODES[int(rng.integers(0, len(MODES)))]
        q = quant_for(dtype, rng)
        x = c.activation([n, ih, iw, ch], dtype, q)
        y = c.activation([n, oh, ow, ch], dtype, q)
        c.op(opcode, [x, c.const([oh, ow])], [y], dict(mode))
    return add


@pytest.mark.parametrize("dtype", ["int8", "int16", "float32"])
@pytest.mark.parametrize("opcode", ["RESIZE_NEAREST_NEIGHBOR", "RESIZE_BILINEAR"])
@pytest.mark.parametrize("seed", [1, 2])
def test_resize_random(opcode: str, dtype: str, seed: int) -> None:
    if opcode == "RESIZE_BILINEAR" and dtype == "int16":
        pytest.skip("TFLM's RESIZE_BILINEAR rejects int16")
    run_cases(_resize_case(opcode), dtype, seed=seed * 1000 + len(opcode) + len(dtype), count=24)


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
def test_keras_upsampling_converts_and_runs_exact(interpolation: str) -> None:
    import tf_keras as keras

    def build(x):
        return keras.layers.UpSampling2D(2, interpolation=interpolation)(keras.layers.Conv2D(4, 3, padding="same")(x))

    path = single_op_tflite(build, [(1, 6, 5, 3)], key=f"upsampling2d-{interpolation}")
    assert_bitexact_with_tflm(path, random_inputs(path, 4, seed=0))
