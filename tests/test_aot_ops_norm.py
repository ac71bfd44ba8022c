"""aot LOG_SOFTMAX and L2_NORMALIZATION bit-exact with the TFLite Micro interpreter, in the dtypes TFLM runs
them in (float32 and int8 both).

Seeded random models (aotutil_builder) of many independent one-op cases: random 1- to 4-D shapes (rows of
the last axis, depth 1 included), random input quantizations over four decades with zero points at the int8
extremes.  int8 inputs cover every code (all-min and all-max samples give constant rows: L2's zero-norm path
and LOG_SOFTMAX's equal-max path); float inputs are uniform in [-3, 3) with some rows zeroed (L2's epsilon).
Then the same ops as a Keras user gets them: tf.nn.log_softmax and tf.math.l2_normalize (LOG_SOFTMAX,
L2_NORMALIZATION) and keras.layers.UnitNormalization (SQUARE, SUM, RSQRT, MUL) converted by tinydeploy's
converter to int8 and float32.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from aotutil import assert_bitexact_with_tflm, build_native, random_inputs
from test_aot_ops_elementwise import Cases
from test_aot_ops_math import quant_for
from tinydeploy.errors import UnsupportedOpError
from tinydeploy.model.graph import load_model

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
SEEDS = [1, 2, 3]
OUT_QUANT = {"LOG_SOFTMAX": (16 / 256, 127), "L2_NORMALIZATION": (1 / 128, 0)}


def _shape(rng: np.random.Generator) -> tuple[int, ...]:
    dims = [int(rng.integers(1, 5)) for _ in range(int(rng.integers(0, 3)))]
    return (*dims, int(rng.choice([1, 2, 7, 16, 33])))


def _model(opcode: str, dtype: str, seed: int, count: int):
    rng = np.random.default_rng(seed)
    c = Cases()
    for _ in range(count):
        shape = _shape(rng)
        qx = quant_for(rng, dtype, 1e-3, 0.5) if dtype == "int8" else None
        if qx is not None and opcode == "LOG_SOFTMAX" and rng.random() < 0.3:
            qx = (float(rng.uniform(0.5, 2.0)), qx[1])  # coarse inputs: most differences saturate exp
        qy = OUT_QUANT[opcode] if dtype == "int8" else None
        x = c.activation(shape, dtype, qx)
        c.op(opcode, [x], c.activation(shape, dtype, qy, name=f"{opcode}_{list(shape)}_{qx}"))
    return c.write()


def _inputs(path, seed: int, samples: int = 6) -> list[np.ndarray]:
    batches = random_inputs(path, samples, seed=seed)
    for b in batches:
        if b.dtype == np.float32:
            b[3] = 0.0  # zero rows: L2's epsilon floor, LOG_SOFTMAX of equal values
            b[4] *= 1e-7  # tiny norms
    return batches


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("opcode", ["LOG_SOFTMAX", "L2_NORMALIZATION"])
@pytest.mark.parametrize("dtype", ["int8", "float32"])
def test_norm_ops_random(opcode: str, dtype: str, seed: int) -> None:
    path = _model(opcode, dtype, seed, 16)
    assert_bitexact_with_tflm(path, _inputs(path, seed))


def test_log_softmax_int8_output_quantization_is_checked() -> None:
    c = Cases()
    x = c.activation((1, 8), "int8", (0.1, 0))
    c.op("LOG_SOFTMAX", [x], c.activation((1, 8), "int8", (1 / 128, 0)))
    with pytest.raises(UnsupportedOpError, match=r"LOG_SOFTMAX output must have scale 16/256 and zero point 127"):
        build_native(c.write())


# --- the Keras user's view -----------------------------------------------------------------------------------


def _keras_norms_model():
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    inp = keras.Input((4, 10), batch_size=1)
    x = keras.layers.Dense(12)(inp)
    log_probs = keras.layers.Lambda(lambda t: tf.nn.log_softmax(t, axis=-1))(x)
    unit = keras.layers.Lambda(lambda t: tf.math.l2_normalize(t, axis=-1))(x)
    layer_unit = keras.layers.UnitNormalization()(keras.layers.Dense(8)(inp))
    return keras.Model(inp, [log_probs, unit, layer_unit])


@pytest.mark.parametrize("mode", ["int8", "float32"])
def test_keras_log_softmax_l2_normalize_unit_normalization(mode: str, tmp_path) -> None:
    from tinydeploy.convert.tflite import keras_to_tflite

    cal = [np.random.default_rng(0).uniform(-1, 1, (16, 4, 10)).astype(np.float32)]
    path = tmp_path / f"norms_{mode}.tflite"
    path.write_bytes(keras_to_tflite(_keras_norms_model(), mode, calibration=cal if mode == "int8" else None))
    ops = {op.opcode for op in load_model(path).operators}
    assert {"LOG_SOFTMAX", "L2_NORMALIZATION", "RSQRT", "SUM"} <= ops
    assert_bitexact_with_tflm(path, random_inputs(path, 6, seed=4))
