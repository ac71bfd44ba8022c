"""int16 LOGISTIC, TANH, MEAN and RELU/RELU6 (16x8 models) on the aot runtime, bit-exact with TFLite Micro.

LOGISTIC and TANH interpolate a 256-entry sigmoid table that the generator computes from its formula
(tinydeploy.aot.sigmoid_table), after rescaling the input as TFLM's Prepare does (its power-of-two fast path
and the general multiplier).  They are checked on every one of the 65536 int16 input codes at several input
scales: the ones tinydeploy's int16x8 converter produced for a Keras Dense -> tanh / sigmoid model, the
power-of-two scales of the fast path (and one a hair off a power of two, which TFLM's CheckedLog2 still
takes for one), 2^-15 (the scale of a [-1, 1] activation) and extremes (a shift capped at 31).  One table
error, one rounding or shift slip shows as a mismatch somewhere in those 65536 codes.  MEAN and RELU are
random property cases built byte by byte; then a Keras model with sigmoid and tanh activations, converted
int16x8 by tinydeploy's converter, runs exact.
"""

from __future__ import annotations

import hashlib
import inspect
import os
from pathlib import Path

import numpy as np
import pytest

from aotutil import assert_bitexact_with_tflm, cache_root, random_inputs
from aotutil_builder import OpSpec, TensorSpec, write_tflite
from tinydeploy.model.graph import load_model

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")

ALL_CODES = np.arange(-32768, 32768, dtype=np.int16)
# input scales of the converter's int16x8 TANH / LOGISTIC layers (Keras Dense -> tanh / sigmoid), then the
# power-of-two fast paths (2^-12 both, 2^-11 TANH only), a scale 0.05 % off 2^-12, a [-1, 1] activation,
# a coarse and a fine scale, and one so small that the rescaling shift stops at 31
INPUT_SCALES = [1.0223627759842202e-04, 6.658049096586183e-05, 4.10268476116471e-05,
                2.0 ** -12, 2.0 ** -11, 2.0 ** -12 * 1.0005, 2.0 ** -15, 2.1e-3, 3.3e-7, 4e-10]


def _exhaustive_model(opcode: str) -> Path:
    """One LOGISTIC / TANH per input scale side by side, each over all 65536 int16 codes."""
    tensors, ops, inputs, outputs = [], [], [], []
    for scale in INPUT_SCALES:
        tensors.append(TensorSpec((1, ALL_CODES.size), "int16", scale=scale))
        tensors.append(TensorSpec((1, ALL_CODES.size), "int16", scale=2.0 ** -15))
        ops.append(OpSpec(opcode, [len(tensors) - 2], [len(tensors) - 1], {}))
        inputs.append(len(tensors) - 2)
        outputs.append(len(tensors) - 1)
    return write_tflite(tensors, ops, inputs, outputs)


@pytest.mark.parametrize("opcode", ["LOGISTIC", "TANH"])
def test_int16_logistic_tanh_every_code_exact(opcode: str) -> None:
    path = _exhaustive_model(opcode)
    codes = [ALL_CODES.reshape(1, -1)] * len(INPUT_SCALES)
    native = assert_bitexact_with_tflm(path, codes)
    assert native.program.files["model.c"].count("td_sigmoid_q16[") == 1  # ten layers, one generated table
    outs = native.run_batch(codes)
    # the outputs span the function's range (a table of zeros would not pass the exactness check either)
    assert min(int(o.min()) for o in outs) <= (-32767 if opcode == "TANH" else 1)
    assert max(int(o.max()) for o in outs) == 32767


def test_int16_logistic_tanh_refuse_what_tflm_refuses() -> None:
    """An output scale other than 2^-15 is refused by TFLM's Prepare: aot refuses it in one line too."""
    from tinydeploy.aot.codegen import generate
    from tinydeploy.errors import UnsupportedOpError

    path = write_tflite([TensorSpec((1, 8), "int16", scale=1e-3), TensorSpec((1, 8), "int16", scale=1e-4)],
                        [OpSpec("TANH", [0], [1], {})], [0], [1])
    with pytest.raises(UnsupportedOpError, match="scale 2\\^-15"):
        generate(load_model(path))


# --- MEAN and RELU ------------------------------------------------------------------------------------------


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def test_int16_mean_random() -> None:
    """TFLM's int16 MEAN: QuantizedMeanOrSum's rounded requantization, also when input and output share their
    scale (the interpreter does not take a truncating integer mean there); one to three axes or all four,
    keep_dims or not, ranks 2 to 4, the converter's GlobalAveragePooling2D."""
    rng = np.random.default_rng(3100)
    tensors, ops, inputs, outputs = [], [], [], []
    for k in range(14):
        rank = int(rng.integers(2, 5))
        shape = [1] + [int(rng.integers(1, 7)) for _ in range(rank - 1)]
        n_axes = int(rng.integers(1, 4))
        axes = sorted(int(a) for a in rng.choice(np.arange(1, rank), size=min(n_axes, rank - 1), replace=False))
        if k == 0:  # the converter's GlobalAveragePooling2D
            shape, axes = [1, 5, 6, 7], [1, 2]
        elif k == 1:  # every axis, batch included
            shape, axes = [1, 3, 4, 5], [0, 1, 2, 3]
        keep = bool(rng.integers(0, 2))
        out_shape = [1 if i in axes else d for i, d in enumerate(shape)] if keep else \
            [d for i, d in enumerate(shape) if i not in axes]
        sx = _log_uniform(rng, 1e-5, 1e-2)
        sy = sx if k % 3 == 0 else sx * rng.uniform(0.3, 1.5)
        tensors.append(TensorSpec(shape, "int16", scale=sx))
        tensors.append(TensorSpec((len(axes),), "int32", data=np.array(axes, np.int32)))
        tensors.append(TensorSpec(out_shape, "int16", scale=sy))
        ops.append(OpSpec("MEAN", [len(tensors) - 3, len(tensors) - 2], [len(tensors) - 1], {"keep_dims": keep}))
        inputs.append(len(tensors) - 3)
        outputs.append(len(tensors) - 1)
    path = write_tflite(tensors, ops, inputs, outputs)
    assert_bitexact_with_tflm(path, random_inputs(path, 8, seed=1))


def test_int16_relu_every_code_exact() -> None:
    """TFLM's int16 RELU (requantizing like int8's ReluQuantized; the scale ratio divided in float32 instead
    of double puts 9 of these codes 1 LSB off) and RELU6 (a clamp in the input's scale), over all 65536 codes
    at random scale pairs."""
    rng = np.random.default_rng(3200)
    tensors, ops, inputs, outputs = [], [], [], []
    for k in range(8):
        sx = _log_uniform(rng, 1e-5, 1e-2) if k else 6.0 / 20000  # k = 0: six inside the int16 range
        sy = sx if k % 4 == 0 else sx * rng.uniform(0.5, 2.0)
        tensors.append(TensorSpec((1, ALL_CODES.size), "int16", scale=sx))
        tensors.append(TensorSpec((1, ALL_CODES.size), "int16", scale=sy))
        ops.append(OpSpec("RELU6" if k % 2 == 0 else "RELU", [len(tensors) - 2], [len(tensors) - 1], {}))
        inputs.append(len(tensors) - 2)
        outputs.append(len(tensors) - 1)
    path = write_tflite(tensors, ops, inputs, outputs)
    assert_bitexact_with_tflm(path, [ALL_CODES.reshape(1, -1)] * len(inputs))


# --- a Keras model ----------------------------------------------------------------------------------------------


def _keras_gates():
    """Dense layers with tanh and sigmoid activations and a gate-like product, as a user writes them."""
    import keras

    keras.utils.set_random_seed(0)
    inp = keras.Input((16,), batch_size=1)
    x = keras.layers.Dense(24, activation="tanh")(inp)
    g = keras.layers.Dense(24, activation="sigmoid")(inp)
    x = keras.layers.Multiply()([x, g])
    y = keras.layers.Dense(12)(x)
    x = keras.layers.Concatenate()([keras.layers.Activation("sigmoid")(y), keras.layers.Activation("tanh")(y)])
    return keras.Model(inp, keras.layers.Dense(4, activation="sigmoid")(x))


def _converted_keras_gates() -> Path:
    import keras
    import tensorflow as tf

    from tinydeploy.convert.tflite import keras_to_tflite

    ident = f"{inspect.getsource(_keras_gates)}|{tf.__version__}|{keras.__version__}|v1"
    path = cache_root() / "int16_nonlinear" / f"gates-{hashlib.sha256(ident.encode()).hexdigest()[:16]}.tflite"
    if not path.exists():
        calibration = [np.random.default_rng(0).uniform(-2, 2, (32, 16)).astype(np.float32)]
        data = keras_to_tflite(_keras_gates(), "int16x8", calibration=calibration, what="gates")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    return path


def test_keras_sigmoid_tanh_int16x8_runs_exact_on_native() -> None:
    path = _converted_keras_gates()
    model = load_model(path)
    kinds = {(op.opcode, model.tensors[op.inputs[0]].dtype) for op in model.operators}
    assert {("LOGISTIC", "int16"), ("TANH", "int16")} <= kinds, sorted(kinds)
    assert_bitexact_with_tflm(path, random_inputs(path, 20, seed=3))
