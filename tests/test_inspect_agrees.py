"""`deploy inspect` agrees with render, per op *and* dtype: on self-built int16x8, uint8-I/O, float16 and int8
models, inspect's aot column is yes for every op exactly when the aot generator produces the program, and its
tflm column exactly when the tflm preflight (with TFLM's host interpreter) passes; refusals name a fix that
works here."""

from __future__ import annotations

import numpy as np
import pytest

from tinydeploy.aot.codegen import generate
from tinydeploy.errors import UserError
from tinydeploy.inspect import inspect_model
from tinydeploy.model.graph import parse_model
from tinydeploy.tflm.preflight import check

pytest.importorskip("tensorflow")

VARIANTS = {"int16x8": ("int16x8", None), "uint8_io": ("int8", "uint8"), "float16": ("float16", None),
            "int8": ("int8", None)}


@pytest.fixture(scope="module")
def models():
    from tinydeploy.convert.tfenv import import_keras
    from tinydeploy.convert.tflite import keras_to_tflite

    keras = import_keras()
    net = keras.Sequential([keras.Input((8,), batch_size=1), keras.layers.Dense(6, activation="relu"),
                            keras.layers.Dense(3)])
    calib = [np.random.default_rng(0).standard_normal((16, 8)).astype(np.float32)]
    return {name: parse_model(keras_to_tflite(net, mode, calibration=calib, io_dtype=io, what=name), None)
            for name, (mode, io) in VARIANTS.items()}


def _runs(fn) -> str | None:
    try:
        fn()
    except UserError as err:
        return str(err)
    return None


@pytest.mark.parametrize("name", list(VARIANTS))
def test_inspect_says_what_render_does(models, name):
    model = models[name]
    report = inspect_model(model)
    for runtime, render in (("aot", lambda: generate(model)), ("tflm", lambda: check(model))):
        says = all(op.runtimes[runtime] for op in report.ops)
        error = _runs(render)
        assert says == (error is None), f"{name}/{runtime}: inspect says {says}, render: {error}"


def test_uint8_io_advice_names_io_dtype(models):
    model = models["uint8_io"]
    report = inspect_model(model)
    if all(op.runtimes["aot"] for op in report.ops):
        pytest.skip("aot runs uint8 I/O now")
    assert any("--io-dtype int8" in w for w in report.warnings)
    with pytest.raises(UserError, match="--io-dtype int8"):
        generate(model)


def test_float16_is_refused_by_tflm_per_op(models):
    report = inspect_model(models["float16"])
    dequant = [op for op in report.ops if op.opcode == "DEQUANTIZE"]
    assert dequant and all(op.runtimes["tflm"] is False for op in dequant)
    assert all("--mode" in op.why_not["tflm"] for op in dequant)
