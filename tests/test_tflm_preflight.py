"""tflm preflight: every problem found before any build, each naming the layer and the fix."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from tinydeploy.boards import get_board
from tinydeploy.errors import UnsupportedOpError, UserError
from tinydeploy.model.graph import load_model
from tinydeploy.render.tflm import render_tflm
from tinydeploy.tflm import preflight

pytest.importorskip("tflite_micro")


@pytest.fixture(scope="session")
def zoo():
    return pytest.importorskip("tinydeploy.zoo")


@pytest.fixture(scope="session")
def tile_model(tmp_path_factory) -> Path:
    """Keras lowers UpSampling2D to TILE, an op the pinned TFLM has no kernel for."""
    from tinydeploy.convert.tfenv import import_keras
    from tinydeploy.convert.tflite import keras_to_tflite

    keras = import_keras()
    inp = keras.Input((4, 4, 2), batch_size=1)
    x = keras.layers.Conv2D(2, 1)(inp)
    model = keras.Model(inp, keras.layers.UpSampling2D(2)(x))
    path = tmp_path_factory.mktemp("tile") / "upsample.tflite"
    path.write_bytes(keras_to_tflite(model, "float32", what="upsample"))
    return path


@pytest.mark.parametrize("mode", ["int8", "int16x8", "float32"])
def test_clean_models_pass(zoo, mode):
    model = load_model(zoo.tflite_model("act_mix", mode))
    problems = preflight.check(model)
    assert [p for p in problems if p.severity == "error"] == []


def test_float16_weights_are_rejected_with_the_fix(zoo):
    with pytest.raises(UserError) as info:
        preflight.check(load_model(zoo.tflite_model("act_mix", "float16")))
    assert "float16 weights" in str(info.value) and "--mode int8 --rep-data" in str(info.value)


def test_dynamic_range_model_is_rejected_with_the_fix(zoo, tmp_path):
    path = zoo.tflite_model("residual_add", "dynamic")
    with pytest.raises(UserError) as info:
        preflight.check(load_model(path))
    text = str(info.value)
    assert "dynamic-range (hybrid)" in text
    assert "deploy convert --mode int8 --rep-data" in text
    assert "(op #" in text  # names the layer
    with pytest.raises(UserError, match="dynamic-range"):  # and render stops before writing anything
        render_tflm(path, get_board("nano33"), tmp_path / "p")
    assert not (tmp_path / "p").exists()


def test_unsupported_op_is_rejected_naming_layer_and_fix(tile_model):
    model = load_model(tile_model)
    assert "TILE" in model.op_names
    with pytest.raises(UnsupportedOpError) as info:
        preflight.check(model)
    text = str(info.value)
    tile = next(op for op in model.operators if op.opcode == "TILE")
    assert f"TILE (op #{tile.index}" in text
    assert "not supported by the pinned TFLite Micro" in text
    assert "UpSampling2D" in text  # the fix


def test_schema_version_checked(zoo):
    model = copy.copy(load_model(zoo.tflite_model("residual_add", "int8")))
    model.version = 2
    with pytest.raises(UserError, match="schema version 2, TFLM accepts only 3"):
        preflight.check(model, run_host=False)


def test_version_above_verified_is_a_warning(zoo):
    model = copy.deepcopy(load_model(zoo.tflite_model("residual_add", "int8")))
    conv = next(op for op in model.operators if op.opcode == "CONV_2D")
    conv.version = 99
    problems = preflight.check(model, run_host=False)
    assert any(p.severity == "warning" and "version 99" in p.message and "CONV_2D" in p.where for p in problems)


def test_buffer_alignment(zoo, monkeypatch):
    model = load_model(zoo.tflite_model("residual_add", "int8"))
    offsets = preflight.buffer_offsets(model.raw)
    assert offsets and all(off % min(size, 4) == 0 for _, off, size in offsets)  # converter output is aligned
    name, off, _ = offsets[0]
    monkeypatch.setattr(preflight, "buffer_offsets", lambda raw: [(name, off + 2, 4)])
    with pytest.raises(UserError, match="tflite_flatbuffer_align"):
        preflight.check(model, run_host=False)
