"""deploy convert: every mode, every calibration data source, the report, and clear errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tinydeploy import zoo
from tinydeploy.cli import main
from tinydeploy.convert.data import InputSpec, load_inputs
from tinydeploy.convert.pipeline import convert_model
from tinydeploy.model.graph import load_model

from conftest import patch_opcode

DIGITS = [InputSpec("digits", (8, 8, 1))]


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The trained digits model as a .keras file plus calibration/eval data in several formats."""
    root = tmp_path_factory.mktemp("digits")
    x_train, y_train, x_test, y_test = zoo.digits_dataset()
    files = {"keras": zoo.keras_path("digits_cnn"), "rep_npy": root / "rep.npy", "eval_npz": root / "eval.npz",
             "rep_csv": root / "rep.csv", "labels_npy": root / "labels.npy", "images": root / "images",
             "module": root / "calib_data.py"}
    np.save(files["rep_npy"], x_train[:64])
    np.savez(files["eval_npz"], x=x_test, y=y_test)
    np.save(files["labels_npy"], y_test)
    with files["rep_csv"].open("w") as f:
        f.write(",".join(f"p{i}" for i in range(64)) + "\n")
        for row in x_train[:20].reshape(20, -1):
            f.write(",".join(f"{v:.5f}" for v in row) + "\n")
    files["module"].write_text(
        "import numpy as np\n"
        "def samples():\n"
        "    return np.random.default_rng(0).uniform(0, 1, (10, 8, 8, 1)).astype(np.float32)\n"
        "def generator():\n"
        "    for _ in range(3):\n"
        "        yield np.zeros((8, 8, 1), np.float32)\n"
    )
    return files


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --- modes ----------------------------------------------------------------------------------------------

EXPECTED_IO = {"float32": "float32", "dynamic": "float32", "float16": "float32", "int8": "int8", "int16x8": "int16"}


@pytest.mark.parametrize("mode", list(EXPECTED_IO))
def test_every_mode_converts_digits(mode: str, digits: dict[str, Path], tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / f"digits-{mode}.tflite"
    code, stdout, err = _run(capsys, "convert", str(digits["keras"]), "-o", str(out), "--mode", mode,
                             "--rep-data", str(digits["rep_npy"]), "--json")
    assert code == 0, err
    report = json.loads(stdout)
    model = load_model(out)
    assert model.input_tensors[0].dtype == EXPECTED_IO[mode]
    assert report["mode"] == mode and report["size_after"] == out.stat().st_size
    assert "CONV_2D" in report["ops"] and "FULLY_CONNECTED" in report["ops"]
    if mode == "dynamic":
        assert any("hybrid" in w for w in report["warnings"])


@pytest.mark.parametrize("name", ["kws_tiny", "act_mix", "residual_add", "mobilenet_tiny"])
@pytest.mark.parametrize("mode", ["float32", "dynamic", "float16", "int8", "int16x8"])
def test_every_mode_converts_zoo_models(name: str, mode: str) -> None:
    model = load_model(zoo.tflite_model(name, mode))
    assert model.operators and model.input_tensors[0].shape == (1, *zoo.get(name).input_shape)


def test_int8_keeps_digits_accuracy(digits: dict[str, Path], tmp_path: Path) -> None:
    result = convert_model(digits["keras"], "int8", output=tmp_path / "d.tflite", rep_data=str(digits["rep_npy"]),
                           eval_data=str(digits["eval_npz"]), eval_labels=str(digits["labels_npy"]))
    ev = result.evaluation
    assert ev is not None and ev.samples == 359 and ev.backend == "tflm"
    assert ev.float_accuracy > 0.9
    assert abs(ev.float_accuracy - ev.converted_accuracy) <= 0.02
    assert ev.top1_agreement >= 0.97 and ev.cosine_similarity > 0.99
    assert result.size_after < result.float_weight_bytes  # int8 weights are about a quarter


def test_human_report(digits: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "convert", str(digits["keras"]), "-o", str(tmp_path / "d.tflite"),
                          "--rep-data", str(digits["rep_npy"]), "--eval-data", str(digits["eval_npz"]))
    assert code == 0, err
    for text in ("mode int8", "float32 weights", "CONV_2D x2", "accuracy converted", "top-1 agreement",
                 "cosine similarity"):
        assert text in out


@pytest.mark.parametrize("io_dtype", ["uint8", "float32"])
def test_io_dtype(io_dtype: str, digits: dict[str, Path], tmp_path: Path, capsys) -> None:
    out = tmp_path / "d.tflite"
    code, _, err = _run(capsys, "convert", str(digits["keras"]), "-o", str(out), "--rep-data",
                        str(digits["rep_npy"]), "--io-dtype", io_dtype)
    assert code == 0, err
    model = load_model(out)
    assert model.input_tensors[0].dtype == io_dtype and model.output_tensors[0].dtype == io_dtype
    assert "CONV_2D" in model.op_names and model.tensors[model.operators[1].outputs[0]].dtype == "int8"


def test_savedmodel_source(digits: dict[str, Path], tmp_path: Path, capsys) -> None:
    saved = tmp_path / "saved"
    zoo.keras_model("digits_cnn").export(str(saved), verbose=False)
    out = tmp_path / "d.tflite"
    code, _, err = _run(capsys, "convert", str(saved), "-o", str(out), "--rep-data", str(digits["rep_npy"]))
    assert code == 0, err
    assert load_model(out).input_tensors[0].dtype == "int8"


def test_tflite_passes_through(tmp_path: Path, capsys) -> None:
    src = zoo.tflite_model("kws_tiny", "int8")
    out = tmp_path / "copy.tflite"
    code, stdout, err = _run(capsys, "convert", str(src), "-o", str(out), "--json")
    assert code == 0, err
    assert out.read_bytes() == src.read_bytes()
    assert json.loads(stdout)["mode"] == "passthrough"


# --- calibration data sources ---------------------------------------------------------------------------


def test_calibration_sources(digits: dict[str, Path]) -> None:
    assert load_inputs(str(digits["rep_npy"]), DIGITS)[0].shape == (64, 8, 8, 1)
    assert load_inputs(str(digits["eval_npz"]), DIGITS)[0].shape == (359, 8, 8, 1)
    assert load_inputs(str(digits["rep_csv"]), DIGITS)[0].shape == (20, 8, 8, 1)
    assert load_inputs(f"{digits['module']}:samples", DIGITS)[0].shape == (10, 8, 8, 1)
    assert load_inputs(f"{digits['module']}:generator", DIGITS)[0].shape == (3, 8, 8, 1)
    assert load_inputs(str(digits["rep_npy"]), DIGITS, limit=5)[0].shape == (5, 8, 8, 1)


def test_image_directory(tmp_path: Path) -> None:
    from tinydeploy.convert.tfenv import import_tf

    tf = import_tf()
    for i in range(3):
        img = np.full((16, 12, 3), 60 * i, np.uint8)
        (tmp_path / f"img{i}.png").write_bytes(tf.io.encode_png(img).numpy())
    (tmp_path / "notes.txt").write_text("ignored")
    data = load_inputs(str(tmp_path), [InputSpec("image", (8, 8, 1))])[0]
    assert data.shape == (3, 8, 8, 1) and data.dtype == np.float32
    np.testing.assert_allclose(data[:, 0, 0, 0], [0.0, 60 / 255, 120 / 255], atol=1e-3)


def test_csv_calibration_end_to_end(digits: dict[str, Path], tmp_path: Path, capsys) -> None:
    code, _, err = _run(capsys, "convert", str(digits["keras"]), "-o", str(tmp_path / "d.tflite"), "--rep-data",
                        str(digits["rep_csv"]))
    assert code == 0, err


# --- bad input: one clear line, non-zero exit, no output file ---------------------------------------------


def _fails(capsys, out: Path, *argv: str) -> str:
    code, _, err = _run(capsys, *argv)
    assert code != 0
    assert err.startswith("error: ") and "Traceback" not in err
    assert not out.exists()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}")]  # no temp file left
    return err


def test_missing_model(tmp_path: Path, capsys) -> None:
    out = tmp_path / "o.tflite"
    err = _fails(capsys, out, "convert", str(tmp_path / "nope.keras"), "-o", str(out))
    assert "nope.keras: no such file" in err


def test_truncated_keras(digits: dict[str, Path], tmp_path: Path, capsys) -> None:
    bad = tmp_path / "cut.keras"
    data = digits["keras"].read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    out = tmp_path / "o.tflite"
    err = _fails(capsys, out, "convert", str(bad), "-o", str(out), "--rep-data", str(digits["rep_npy"]))
    assert "cut.keras: cannot load the Keras model" in err


def test_not_a_flatbuffer(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"\x00" * 64)
    out = tmp_path / "o.tflite"
    err = _fails(capsys, out, "convert", str(bad), "-o", str(out))
    assert "not a TFLite flatbuffer" in err


def test_truncated_tflite(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "cut.tflite"
    raw = zoo.tflite_model("kws_tiny", "int8").read_bytes()
    bad.write_bytes(raw[: len(raw) // 3])
    out = tmp_path / "o.tflite"
    err = _fails(capsys, out, "convert", str(bad), "-o", str(out))
    assert "cut.tflite" in err and ("truncated" in err or "corrupt" in err)


@pytest.mark.parametrize("code,shown", [(32, "CUSTOM"), (250, "BUILTIN_250")])
def test_op_no_runtime_supports(code: int, shown: str, tmp_path: Path, capsys) -> None:
    model = tmp_path / "odd.tflite"
    model.write_bytes(patch_opcode(zoo.tflite_model("kws_tiny", "int8").read_bytes(), 0, code))
    out = tmp_path / "o.tflite"
    code, stdout, _ = _run(capsys, "convert", str(model), "-o", str(out))
    assert code == 0 and out.read_bytes() == model.read_bytes()  # a valid .tflite is written, with a warning
    text = " ".join(stdout.split())
    assert f"no runtime supports {shown}" in text and "op #0" in text and "layer '" in text


def test_calibration_shape_mismatch(digits: dict[str, Path], tmp_path: Path, capsys) -> None:
    bad = tmp_path / "flat.npy"
    np.save(bad, np.zeros((10, 64), np.float32))
    out = tmp_path / "o.tflite"
    err = _fails(capsys, out, "convert", str(digits["keras"]), "-o", str(out), "--rep-data", str(bad))
    assert "has shape (10, 64), expected (N, 8, 8, 1)" in err


def test_calibration_dtype_mismatch(digits: dict[str, Path], tmp_path: Path, capsys) -> None:
    bad = tmp_path / "text.npy"
    np.save(bad, np.array([["a"] * 8] * 8))
    out = tmp_path / "o.tflite"
    err = _fails(capsys, out, "convert", str(digits["keras"]), "-o", str(out), "--rep-data", str(bad))
    assert "dtype <U1, expected numbers" in err


def test_eval_shape_mismatch(digits: dict[str, Path], tmp_path: Path, capsys) -> None:
    bad = tmp_path / "eval.npz"
    np.savez(bad, x=np.zeros((4, 8, 8), np.float32), y=np.zeros(4, np.int64))
    out = tmp_path / "o.tflite"
    err = _fails(capsys, out, "convert", str(digits["keras"]), "-o", str(out), "--rep-data",
                 str(digits["rep_npy"]), "--eval-data", str(bad))
    assert "evaluation data" in err and "expected (N, 8, 8, 1)" in err


def test_int8_needs_calibration(digits: dict[str, Path], tmp_path: Path, capsys) -> None:
    out = tmp_path / "o.tflite"
    err = _fails(capsys, out, "convert", str(digits["keras"]), "-o", str(out), "--mode", "int8")
    assert "needs calibration data" in err


def test_io_dtype_must_fit_mode(digits: dict[str, Path], tmp_path: Path, capsys) -> None:
    out = tmp_path / "o.tflite"
    err = _fails(capsys, out, "convert", str(digits["keras"]), "-o", str(out), "--mode", "float16",
                 "--io-dtype", "int8")
    assert "--io-dtype int8 does not fit --mode float16" in err


# --- sources that need care -------------------------------------------------------------------------------


def test_zoo_source_calibrates_itself(tmp_path: Path, capsys) -> None:
    out = tmp_path / "z.tflite"
    code, stdout, err = _run(capsys, "convert", "zoo:digits_cnn", "-o", str(out), "--json")
    assert code == 0, err
    assert json.loads(stdout)["io_dtype"] == "int8" and load_model(out).input_tensors[0].dtype == "int8"


def test_unknown_batch_size_is_fixed_to_one(tmp_path: Path, capsys) -> None:
    from tinydeploy.convert.tfenv import import_keras

    keras = import_keras()
    inp = keras.Input((8,))  # batch size unknown: the converter would emit SHAPE/PACK ops for the Reshape
    x = keras.layers.Dense(8)(inp)
    x = keras.layers.Flatten()(keras.layers.Reshape((2, 4))(x))
    path = tmp_path / "nobatch.keras"
    keras.Model(inp, keras.layers.Dense(3)(x)).save(path)
    rep = tmp_path / "rep.npy"
    np.save(rep, np.random.default_rng(0).normal(size=(16, 8)).astype(np.float32))
    out = tmp_path / "o.tflite"
    code, _, err = _run(capsys, "convert", str(path), "-o", str(out), "--rep-data", str(rep))
    assert code == 0, err
    model = load_model(out)
    assert model.input_tensors[0].shape == (1, 8)
    assert not {"SHAPE", "PACK", "STRIDED_SLICE"} & set(model.op_names)


def test_tf_op_without_tflite_kernel_is_named() -> None:
    from tinydeploy.convert.tfenv import import_keras
    from tinydeploy.convert.tflite import keras_to_tflite
    from tinydeploy.errors import UnsupportedOpError

    keras = import_keras()
    inp = keras.Input((8,), batch_size=1)
    x = keras.layers.Lambda(lambda t: keras.ops.cumprod(t, axis=-1), name="running_product")(inp)
    with pytest.raises(UnsupportedOpError, match=r"TF op Cumprod \(layer '.*running_product.*'\) has no TFLite"):
        keras_to_tflite(keras.Model(inp, x), "float32")


def test_lambda_layer_file_is_refused_clearly(tmp_path: Path, capsys) -> None:
    from tinydeploy.convert.tfenv import import_keras

    keras = import_keras()
    inp = keras.Input((8,), batch_size=1)
    path = tmp_path / "lambda.keras"
    keras.Model(inp, keras.layers.Lambda(lambda t: t * 2)(inp)).save(path)
    out = tmp_path / "o.tflite"
    err = _fails(capsys, out, "convert", str(path), "-o", str(out), "--mode", "float32")
    assert "Lambda layer" in err


def test_h5_source(digits: dict[str, Path], tmp_path: Path, capsys) -> None:
    h5 = tmp_path / "digits.h5"
    zoo.keras_model("digits_cnn").save(h5)
    out = tmp_path / "d.tflite"
    code, _, err = _run(capsys, "convert", str(h5), "-o", str(out), "--mode", "float32")
    assert code == 0, err
    assert load_model(out).input_tensors[0].dtype == "float32"
