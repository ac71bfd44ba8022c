"""Real Keras layers and activations through the project's converter, run by aot on the native board, exact
with the TFLite Micro interpreter.

Models built here (Keras 3, exported as SavedModels like a user's `model.export()`), converted to full int8
with `tinydeploy.convert.pipeline.convert_model` (and float32 for the activations TFLM runs only in float):
  * every Keras activation that converts to TFLM int8 kernels: hard_swish / hard_silu (HARD_SWISH), elu
    (ELU), hard_sigmoid (ADD, RELU6, MUL), relu6, silu, sigmoid, tanh, leaky_relu, softmax, relu;
  * PReLU, Maximum, Minimum, Subtract, GlobalMaxPooling2D (REDUCE_MAX), Dense and an argmax (ARG_MAX);
  * selu, whose int8 conversion holds an int8 EXP that TFLM has no kernel for: refused with the fix (its
    float32 conversion holds SELECT, which TFLM does not register either);
  * float32: the same activations plus exponential (EXP), exact bit for bit.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from aotutil import assert_bitexact_with_tflm, build_native, random_inputs
from tinydeploy.errors import UnsupportedOpError
from tinydeploy.model.graph import load_model

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

INT8_ACTIVATIONS = ["hard_swish", "hard_silu", "elu", "hard_sigmoid", "relu6", "silu", "sigmoid", "tanh",
                    "leaky_relu", "softmax", "relu"]
SHAPE = (8, 8, 3)


def _activations_model(activations: list[str]):
    import keras

    inp = keras.Input(SHAPE, batch_size=1)
    x = keras.layers.Conv2D(8, 3, padding="same")(inp)
    return keras.Model(inp, [keras.layers.Activation(a, name=f"act_{a}")(x) for a in activations])


def _layers_model():
    import keras
    import tensorflow as tf

    inp = keras.Input(SHAPE, batch_size=1)
    a = keras.layers.PReLU(shared_axes=[1, 2], alpha_initializer=keras.initializers.RandomUniform(-0.5, 0.5))(
        keras.layers.Conv2D(8, 3, padding="same")(inp))
    b = keras.layers.Conv2D(8, 1)(inp)
    high = keras.layers.Maximum()([a, b])
    low = keras.layers.Minimum()([a, b])
    spread = keras.layers.Subtract()([high, low])
    logits = keras.layers.Dense(5)(keras.layers.GlobalMaxPooling2D()(spread))
    label = keras.layers.Lambda(lambda t: tf.argmax(t, axis=-1, output_type=tf.int32))(logits)
    return keras.Model(inp, [logits, label])


def _convert(model, tmp: Path, name: str, mode: str = "int8") -> Path:
    from tinydeploy.convert.pipeline import convert_model

    saved = tmp / f"{name}_saved"
    model.export(str(saved), verbose=False)
    rep = tmp / "rep.npy"
    if not rep.exists():
        np.save(rep, np.random.default_rng(0).uniform(-1, 1, (32, *SHAPE)).astype(np.float32))
    out = tmp / f"{name}_{mode}.tflite"
    convert_model(saved, mode, output=out, rep_data=str(rep) if mode == "int8" else None)
    return out


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import keras

    keras.utils.set_random_seed(0)
    return tmp_path_factory.mktemp("keras_acts")


def test_keras_activations_int8_exact(workdir: Path) -> None:
    path = _convert(_activations_model(INT8_ACTIVATIONS), workdir, "acts")
    ops = {op.opcode for op in load_model(path).operators}
    assert {"HARD_SWISH", "ELU"} <= ops
    assert_bitexact_with_tflm(path, random_inputs(path, 6, seed=1))


def test_keras_layers_int8_exact(workdir: Path) -> None:
    path = _convert(_layers_model(), workdir, "layers")
    ops = {op.opcode for op in load_model(path).operators}
    assert {"PRELU", "MAXIMUM", "MINIMUM", "SUB", "REDUCE_MAX", "ARG_MAX"} <= ops
    assert_bitexact_with_tflm(path, random_inputs(path, 8, seed=2))


def test_keras_selu_int8_is_refused_with_the_fix(workdir: Path) -> None:
    path = _convert(_activations_model(["selu"]), workdir, "selu")
    with pytest.raises(UnsupportedOpError, match=r"EXP .*int8.*no such kernel.*--mode float32"):
        build_native(path)


def test_keras_activations_float32_exact(workdir: Path) -> None:
    path = _convert(_activations_model(["exponential", *INT8_ACTIVATIONS]), workdir, "acts", "float32")
    assert "EXP" in {op.opcode for op in load_model(path).operators}
    assert_bitexact_with_tflm(path, random_inputs(path, 4, seed=3))
