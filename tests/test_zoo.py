"""The model zoo: architectures match MLPerf Tiny (MAC totals), inputs are seeded, the cache is safe."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import numpy as np
import pytest

from tinydeploy import zoo
from tinydeploy.errors import UserError
from tinydeploy.macs import total_macs
from tinydeploy.model.graph import load_model


@pytest.mark.parametrize("name", sorted(zoo.MAC_TOTALS))
def test_mlperf_tiny_mac_totals(name: str) -> None:
    model = load_model(zoo.tflite_model(name, "int8"))
    assert total_macs(model) == zoo.MAC_TOTALS[name]
    assert model.input_tensors[0].dtype == "int8"
    assert model.input_tensors[0].shape == (1, *zoo.get(name).input_shape)


def test_resnet8_has_add_and_per_channel_conv_weights() -> None:
    model = load_model(zoo.tflite_model("resnet8", "int8"))
    assert "ADD" in model.op_names
    conv = next(op for op in model.operators if op.opcode == "CONV_2D")
    weights = model.tensors[conv.inputs[1]]
    assert weights.dtype == "int8" and weights.quant is not None and weights.quant.per_channel


def test_act_mix_covers_its_ops() -> None:
    ops = set(load_model(zoo.tflite_model("act_mix", "int8")).op_names)
    assert {"LOGISTIC", "TANH", "CONCATENATION", "PAD", "MUL", "MEAN"} <= ops


def test_sample_inputs_are_seeded_and_in_range() -> None:
    for name in zoo.names():
        spec = zoo.get(name)
        x = zoo.sample_inputs(name, 3, seed=5)
        assert x.dtype == np.float32 and x.shape == (3, *spec.input_shape)
        assert spec.input_range[0] <= x.min() and x.max() <= spec.input_range[1]
        np.testing.assert_array_equal(x, zoo.sample_inputs(name, 3, seed=5))
    assert not np.array_equal(zoo.sample_inputs("resnet8", 2, 0), zoo.sample_inputs("resnet8", 2, 1))


def test_digits_dataset_split_is_fixed() -> None:
    x_train, y_train, x_test, y_test = zoo.digits_dataset()
    assert x_train.shape[1:] == (8, 8, 1) and len(x_train) + len(x_test) == 1797
    assert 0.0 <= x_train.min() and x_train.max() <= 1.0
    again = zoo.digits_dataset()
    np.testing.assert_array_equal(y_test, again[3])


def test_unknown_model_is_a_user_error() -> None:
    with pytest.raises(UserError, match="no zoo model named 'nope'"):
        zoo.tflite_model("nope")


def _slow_writer(args: tuple[str, str]) -> str:
    target, marker = args
    calls = Path(marker)

    def write(tmp: Path) -> None:
        with calls.open("a") as f:
            f.write("x")
        time.sleep(0.3)
        tmp.write_bytes(b"model")

    return str(zoo._cached(Path(target), write))


def test_cache_builds_once_across_processes(tmp_path: Path) -> None:
    target, marker = tmp_path / "zoo" / "m.tflite", tmp_path / "calls"
    with multiprocessing.get_context("spawn").Pool(3) as pool:
        paths = pool.map(_slow_writer, [(str(target), str(marker))] * 3)
    assert set(paths) == {str(target)}
    assert target.read_bytes() == b"model"
    assert marker.read_text() == "x"  # built exactly once
    assert [p.name for p in target.parent.iterdir() if p.suffix == ".tflite"] == ["m.tflite"]  # no temp left
