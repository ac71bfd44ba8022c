"""Models with a dynamic batch (shape_signature [-1, ...], as the official MLPerf Tiny models carry) run as batch 1
on both runtimes; other dynamic dimensions are refused in one line naming the input tensor."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tinydeploy.aot.codegen import generate
from tinydeploy.errors import UserError
from tinydeploy.model.graph import load_model
from tinydeploy.tflm.preflight import check

tf = pytest.importorskip("tensorflow")


def _tf_convert(model, sample_shape: tuple[int, ...], path: Path) -> Path:
    """What a course notebook does: TFLiteConverter.from_keras_model, full int8, batch left dynamic."""
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    rng = np.random.default_rng(0)
    conv.representative_dataset = lambda: ([rng.random((1, *sample_shape), np.float32)] for _ in range(8))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = conv.inference_output_type = tf.int8
    path.write_bytes(conv.convert())
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    from tinydeploy.convert.tfenv import import_keras

    keras = import_keras()
    L = keras.layers
    tmp = tmp_path_factory.mktemp("dyn")
    cnn = keras.Sequential([keras.Input((8, 8, 1)), L.Conv2D(4, 3, activation="relu"), L.Flatten(), L.Dense(3),
                            L.Softmax()])
    seq = keras.Sequential([keras.Input((None, 4)), L.Dense(3)])
    return {"batch": _tf_convert(cnn, (8, 8, 1), tmp / "batch.tflite"),
            "time": _tf_convert(seq, (5, 4), tmp / "time.tflite")}


def test_dynamic_batch_runs_as_batch_one(models):
    model = load_model(models["batch"])
    assert model.input_tensors[0].shape_signature[0] == -1  # really dynamic, with a SHAPE op for Flatten
    assert "SHAPE" in [op.opcode for op in model.operators]
    check(model)  # tflm preflight, including TFLM's host interpreter: no problem
    program = generate(model)  # aot: SHAPE folds to the batch-1 shape
    assert "SHAPE" not in {model.operators[i].opcode for i in range(len(model.operators))
                           if i not in program.folded_ops and i not in program.dead_ops}


def test_other_dynamic_dimensions_are_refused_in_one_line(models):
    model = load_model(models["time"])
    with pytest.raises(UserError) as aot:
        generate(model)
    message = str(aot.value)
    assert "\n" not in message and "dynamic dimension(s) [1]" in message and "keras.Input" in message
    with pytest.raises(UserError, match=r"dynamic dimension\(s\) \[1\]"):
        check(model, run_host=False)
