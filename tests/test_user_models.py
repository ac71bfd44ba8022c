"""Issue #12: models as a course teaches users to write them, built here, through `deploy convert`/`deploy qat`.

Covers what the other test files do not: QAT on a Sequential model with (N,) targets, a directory written by
tf.saved_model.save (float32 and int8: FULLY_CONNECTED, no BATCH_MATMUL/READ_VARIABLE), an LSTM to int8
(UNIDIRECTIONAL_SEQUENCE_LSTM, no segfault), a converter that dies is one line, and written files honour the
umask.  Elsewhere: -1 batch (test_dynamic_batch.py), inspect vs render (test_inspect_agrees.py), an op no
runtime has (test_convert.py::test_op_no_runtime_supports), metrics/labels/float tolerance
(test_verify_metrics.py, test_verify_native.py), infer() dequantized (test_verify_plugin.py), a crashing
reference (test_reference_worker.py).
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from tinydeploy.cli import main
from tinydeploy.model.graph import load_model

pytest.importorskip("tensorflow")


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A Sequential regression model saved as .keras and with tf.saved_model.save, plus its data."""
    import tensorflow as tf

    from tinydeploy.convert.tfenv import import_keras

    keras = import_keras()
    root = tmp_path_factory.mktemp("course")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 8)).astype(np.float32)
    y = (x @ rng.standard_normal(8)).astype(np.float32)  # shape (N,): Keras accepts it for a (N, 1) output
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1)])
    model.compile("adam", "mse")
    model.fit(x, y, epochs=2, verbose=0)
    model.save(root / "seq.keras")
    tf.saved_model.save(model, str(root / "saved"))
    np.save(root / "x.npy", x[:64])
    np.savez(root / "train.npz", x=x, y=y)
    return {"root": root, "keras": root / "seq.keras", "saved": root / "saved", "x": root / "x.npy",
            "train": root / "train.npz"}


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_qat_on_a_sequential_model_with_n_targets(course, capsys) -> None:
    out = course["root"] / "qat.tflite"
    code, stdout, err = _run(capsys, "qat", str(course["keras"]), "--train-data", str(course["train"]),
                             "--epochs", "1", "-o", str(out), "--json")
    assert code == 0, err
    assert json.loads(stdout)["mode"] == "qat"
    model = load_model(out)
    assert [op.opcode for op in model.operators].count("FULLY_CONNECTED") == 2 and model.input_tensors[0].dtype == "int8"


@pytest.mark.parametrize("mode", ["float32", "int8"])
def test_saved_model_dir_converts_frozen_at_batch_one(course, capsys, mode: str) -> None:
    out = course["root"] / f"saved_{mode}.tflite"
    code, _, err = _run(capsys, "convert", str(course["saved"]), "--mode", mode, "--rep-data", str(course["x"]),
                        "-o", str(out))
    assert code == 0, err
    model = load_model(out)
    ops = set(model.op_names)
    assert "FULLY_CONNECTED" in ops and not ops & {"BATCH_MATMUL", "READ_VARIABLE", "VAR_HANDLE"}, ops
    assert model.input_tensors[0].shape == (1, 8)
    assert model.input_tensors[0].dtype == ("int8" if mode == "int8" else "float32")


def test_lstm_converts_to_int8_fused_lstm(course, capsys) -> None:
    from tinydeploy.convert.tfenv import import_keras

    keras = import_keras()
    model = keras.Sequential([keras.Input((10, 4)), keras.layers.LSTM(8), keras.layers.Dense(3)])
    path = course["root"] / "lstm.keras"
    model.save(path)
    data = course["root"] / "seq_x.npy"
    np.save(data, np.random.default_rng(1).standard_normal((32, 10, 4)).astype(np.float32))
    out = course["root"] / "lstm.tflite"
    code, _, err = _run(capsys, "convert", str(path), "--mode", "int8", "--rep-data", str(data), "-o", str(out))
    assert code == 0, err
    converted = load_model(out)
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in converted.op_names
    assert converted.input_tensors[0].dtype == "int8"


def test_a_converter_that_dies_is_one_line(course, capsys, tmp_path, monkeypatch) -> None:
    # Every converter child segfaults at start-up (a sitecustomize on its PYTHONPATH): what TF 2.21 did on
    # Keras 3 LSTMs.  The user gets one line naming the model and mode, and nothing is written.
    (tmp_path / "sitecustomize.py").write_text("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    out = tmp_path / "o.tflite"
    code, _, err = _run(capsys, "convert", str(course["keras"]), "--mode", "int8", "--rep-data", str(course["x"]),
                        "-o", str(out))
    assert code != 0 and not out.exists()
    first = err.strip().splitlines()[0]
    assert first.startswith("error: ") and "seq.keras" in first and "SIGSEGV" in first, err
    assert "Traceback" not in err


@pytest.mark.parametrize("mask", [0o022, 0o077])
def test_written_files_honour_the_umask(course, capsys, tmp_path, mask: int) -> None:
    source = course["root"] / "saved_float32.tflite"
    if not source.exists():
        pytest.skip("needs the SavedModel conversion above")
    out = tmp_path / "copy.tflite"
    old = os.umask(mask)
    try:
        code, _, err = _run(capsys, "convert", str(source), "-o", str(out))
    finally:
        os.umask(old)
    assert code == 0, err
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~mask


def test_run_on_a_keras_model_uses_it_as_the_float_reference(course, capsys, tmp_path) -> None:
    """`deploy run seq.keras --rep-data X`: quantized on the way, and the .keras model it came from is the float
    reference the report's drift is measured against (no --float-model needed)."""
    report = tmp_path / "report.json"
    code, _, err = _run(capsys, "run", str(course["keras"]), "--rep-data", str(course["x"]), "--board", "native",
                        "--inputs", str(course["x"]), "-n", "8", "--no-litert", "--report", str(report))
    assert code == 0, err
    fidelity = json.loads(report.read_text())["fidelity"]
    assert "compared" in fidelity["float"], fidelity["float"]
