"""Host references: TFLM, LiteRT (default and reference kernels) and the float model, on real zoo models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tinydeploy import zoo
from tinydeploy.errors import UserError
from tinydeploy.model.graph import load_model
from tinydeploy.reference import dequantize_output, quantize_input, run_reference


@pytest.fixture(scope="module")
def digits_int8() -> tuple[Path, np.ndarray, np.ndarray]:
    path = zoo.tflite_model("digits_cnn", "int8")
    x = zoo.sample_inputs("digits_cnn", 16, seed=3)
    return path, x, quantize_input(x, load_model(path).input_tensors[0])


@pytest.mark.parametrize("backend", ["tflm", "litert", "litert-ref"])
def test_backends_shape_and_dtype(backend: str, digits_int8) -> None:
    path, _, xq = digits_int8
    (out,) = run_reference(backend, path, xq)
    assert out.shape == (16, 10) and out.dtype == np.int8


def test_tflm_matches_litert_reference_kernels(digits_int8) -> None:
    path, _, xq = digits_int8
    np.testing.assert_array_equal(run_reference("tflm", path, xq)[0], run_reference("litert-ref", path, xq)[0])


def test_float_references_agree(digits_int8) -> None:
    _, x, _ = digits_int8
    from_memory = run_reference("float", zoo.keras_model("digits_cnn"), x)[0]
    from_file = run_reference("float", zoo.keras_path("digits_cnn"), x)[0]
    from_tflite = run_reference("float", zoo.tflite_model("digits_cnn", "float32"), x)[0]
    np.testing.assert_allclose(from_memory, from_file, atol=1e-6)
    np.testing.assert_allclose(from_memory, from_tflite, atol=1e-5)


def test_int8_close_to_float(digits_int8) -> None:
    path, x, xq = digits_int8
    model = load_model(path)
    y = dequantize_output(run_reference("tflm", path, xq)[0], model.output_tensors[0])
    y_float = run_reference("float", zoo.keras_model("digits_cnn"), x)[0]
    assert (y.argmax(1) == y_float.argmax(1)).mean() >= 0.9
    assert np.abs(y - y_float).max() < 0.1


def test_list_of_samples_and_int16(tmp_path: Path) -> None:
    path = zoo.tflite_model("kws_tiny", "int16x8")
    tensor = load_model(path).input_tensors[0]
    x = quantize_input(zoo.sample_inputs("kws_tiny", 3, seed=0), tensor)
    assert x.dtype == np.int16
    batched = run_reference("tflm", path, x)[0]
    listed = run_reference("tflm", path, [x[0], x[1], x[2]])[0]
    np.testing.assert_array_equal(batched, listed)
    assert batched.shape == (3, 12) and batched.dtype == np.int16


def test_quantize_rounds_half_away_from_zero() -> None:
    tensor = load_model(zoo.tflite_model("digits_cnn", "int8")).input_tensors[0]
    scale, zp = float(tensor.quant.scale[0]), int(tensor.quant.zero_point[0])
    x = np.array([0.5 * scale, 1.5 * scale, 1000.0, -1000.0], np.float64)
    q = quantize_input(x, tensor)
    np.testing.assert_array_equal(q, np.clip(np.array([1 + zp, 2 + zp, 127, -128]), -128, 127).astype(np.int8))
    np.testing.assert_allclose(dequantize_output(q[:2], tensor), [scale, 2 * scale], rtol=1e-6)


def test_wrong_dtype_is_clear(digits_int8) -> None:
    path, x, _ = digits_int8
    with pytest.raises(UserError, match="expects int8, got float32"):
        run_reference("tflm", path, x)


def test_wrong_shape_is_clear(digits_int8) -> None:
    path, _, xq = digits_int8
    with pytest.raises(UserError, match=r"expects samples of shape \(8, 8, 1\)"):
        run_reference("litert", path, xq.reshape(16, 64))


def test_float_reference_refuses_quantized(digits_int8) -> None:
    path, x, _ = digits_int8
    with pytest.raises(UserError, match="needs the float model"):
        run_reference("float", path, x)


def test_unknown_backend(digits_int8) -> None:
    with pytest.raises(UserError, match="unknown reference backend"):
        run_reference("gpu", digits_int8[0], digits_int8[2])


def test_where_tflm_and_litert_reference_kernels_part_ways() -> None:
    """Measured fact: TFLM and LiteRT's reference kernels agree exactly on CONV_2D, ADD and AVERAGE_POOL_2D of
    resnet8; they first differ (by 1 LSB) at FULLY_CONNECTED.  TFLM is the exactness oracle."""
    from tinydeploy.reference.compare import compare_ops

    path = zoo.tflite_model("resnet8", "int8")
    x = quantize_input(zoo.sample_inputs("resnet8", 4, seed=0), load_model(path).input_tensors[0])
    diffs = compare_ops(path, x, "tflm", "litert-ref")
    first = next((d for d in diffs if d.max_lsb), None)
    assert all(d.max_lsb == 0 for d in diffs if d.opcode in ("CONV_2D", "ADD", "AVERAGE_POOL_2D"))
    assert first is None or (first.opcode == "FULLY_CONNECTED" and first.max_lsb <= 1)
