"""Quantization-aware training end to end (tfmot through tf_keras in a subprocess)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tinydeploy import zoo
from tinydeploy.cli import main
from tinydeploy.model.graph import load_model


@pytest.fixture(scope="module")
def digits_data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("qat")
    x_train, y_train, x_test, y_test = zoo.digits_dataset()
    np.savez(root / "train.npz", x=x_train[:600], y=y_train[:600])
    np.savez(root / "test.npz", x=x_test, y=y_test)
    return {"train": root / "train.npz", "test": root / "test.npz", "root": root}


def test_qat_end_to_end(digits_data: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    out = digits_data["root"] / "digits-qat.tflite"
    code = main(["qat", str(zoo.keras_path("digits_cnn")), "--train-data", str(digits_data["train"]),
                 "--epochs", "1", "-o", str(out), "--eval-data", str(digits_data["test"]), "--json"])
    stdout, err = capsys.readouterr()
    assert code == 0, err
    report = json.loads(stdout)
    assert report["mode"] == "qat" and report["training"]["train_samples"] == 600
    model = load_model(out)
    assert model.input_tensors[0].dtype == "int8" and model.output_tensors[0].dtype == "int8"
    assert model.input_tensors[0].shape == (1, 8, 8, 1)
    assert {"CONV_2D", "FULLY_CONNECTED", "SOFTMAX"} <= set(model.op_names)
    assert all(t.dtype in ("int8", "int32") for t in model.tensors)  # full-integer, no float left
    ev = report["evaluation"]
    assert ev["converted_accuracy"] >= 0.9 and ev["top1_agreement"] >= 0.9


def test_layer_tfmot_cannot_wrap(digits_data: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    from tinydeploy.convert.tfenv import import_keras

    keras = import_keras()
    inp = keras.Input((8, 8, 1), batch_size=1)
    x = keras.layers.Flatten()(inp)
    x = keras.layers.Dense(16)(x)
    x = keras.layers.LayerNormalization(name="my_norm")(x)
    model = keras.Model(inp, keras.layers.Dense(10, activation="softmax")(x))
    path = digits_data["root"] / "norm.keras"
    model.save(path)
    out = digits_data["root"] / "norm.tflite"
    code = main(["convert", str(path), "--mode", "qat", "--train-data", str(digits_data["train"]),
                 "--epochs", "1", "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and not out.exists()
    assert "QAT cannot wrap layer 'my_norm' (LayerNormalization)" in err
    assert "Traceback" not in err


def test_qat_needs_train_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["convert", str(zoo.keras_path("digits_cnn")), "--mode", "qat", "-o", str(tmp_path / "o.tflite")])
    assert code == 2 and "needs training data" in capsys.readouterr().err


def test_qat_bad_train_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "train.npz"
    np.savez(bad, x=np.zeros((10, 64), np.float32), y=np.zeros(10, np.int64))
    out = tmp_path / "o.tflite"
    code = main(["qat", str(zoo.keras_path("digits_cnn")), "--train-data", str(bad), "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and not out.exists()
    assert "has shape (10, 64), expected (N, 8, 8, 1)" in err
