"""deploy inspect: ops with runtime support, tensors, MACs (MLPerf Tiny totals exact), memory, warnings."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tinydeploy import zoo
from tinydeploy.cli import main
from tinydeploy.inspect import estimate_peak_bytes, inspect_model, layer_name
from tinydeploy.model.graph import load_model

from conftest import patch_opcode


def _inspect_json(capsys: pytest.CaptureFixture[str], path: Path) -> dict:
    code = main(["inspect", str(path), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


@pytest.mark.parametrize("name", sorted(zoo.MAC_TOTALS))
def test_json_mlperf_tiny(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    report = _inspect_json(capsys, zoo.tflite_model(name, "int8"))
    assert report["total_macs"] == zoo.MAC_TOTALS[name]
    assert sum(op["macs"] for op in report["ops"]) == zoo.MAC_TOTALS[name]
    assert report["memory"]["arena_bytes"] > 0 and report["memory"]["source"] in ("plan", "estimate")
    assert report["param_bytes"] > 0
    for op in report["ops"]:
        assert set(op["runtimes"]) == {"aot", "tflm"}
        assert op["runtimes"]["tflm"] in (True, None)  # every op of these models runs on TFLM
    assert report["warnings"] == [] or all("aot runtime" in w for w in report["warnings"])
    weights = [t for t in report["tensors"] if t["constant"] and t["dtype"] == "int8" and t["quant"]]
    assert weights
    if name != "fc_autoencoder":
        assert any(t["quant"]["per_channel"] for t in weights)  # conv weights are per-channel


def test_json_per_layer_macs_ds_cnn(capsys: pytest.CaptureFixture[str]) -> None:
    report = _inspect_json(capsys, zoo.tflite_model("ds_cnn", "int8"))
    macs = [(op["opcode"], op["macs"]) for op in report["ops"] if op["macs"]]
    assert macs[0] == ("CONV_2D", 25 * 5 * 64 * 10 * 4)
    assert macs[1] == ("DEPTHWISE_CONV_2D", 25 * 5 * 64 * 9)
    assert macs[2] == ("CONV_2D", 25 * 5 * 64 * 64)
    assert macs[-1] == ("FULLY_CONNECTED", 64 * 12)


def test_human_output(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["inspect", str(zoo.tflite_model("resnet8", "int8")), "--tensors"])
    out, _ = capsys.readouterr()
    assert code == 0
    for text in ("operators", "CONV_2D", "ADD", "MACs: 12,501,632", "tensors", "per-channel", "aot", "tflm"):
        assert text in out


def test_hybrid_warning() -> None:
    report = inspect_model(load_model(zoo.tflite_model("digits_cnn", "dynamic")))
    assert any("hybrid (dynamic-range)" in w for w in report.warnings)


def test_float16_warning() -> None:
    report = inspect_model(load_model(zoo.tflite_model("kws_tiny", "float16")))
    assert any("float16 weights" in w for w in report.warnings)


def test_custom_op_is_flagged(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "custom.tflite"
    path.write_bytes(patch_opcode(zoo.tflite_model("kws_tiny", "int8").read_bytes(), 0, 32))
    report = _inspect_json(capsys, path)
    first = report["ops"][0]
    assert first["opcode"].startswith("CUSTOM") and first["runtimes"]["tflm"] is False
    assert any(w.startswith("no runtime supports CUSTOM") for w in report["warnings"])


def test_float_ops_in_quantized_model_warned() -> None:
    """A quantized model whose final op stayed float (a DEQUANTIZE feeding a float SOFTMAX)."""
    model = load_model(zoo.tflite_model("digits_cnn", "int8"))
    softmax = next(op for op in model.operators if op.opcode == "SOFTMAX")
    model.tensors[softmax.outputs[0]].dtype = "float32"  # pretend the converter left it in float
    report = inspect_model(model)
    assert any("float op(s) left in a quantized model: SOFTMAX" in w for w in report.warnings)


def test_uint8_legacy_warned() -> None:
    model = load_model(zoo.tflite_model("digits_cnn", "int8"))
    conv = next(op for op in model.operators if op.opcode == "CONV_2D")
    model.tensors[conv.inputs[1]].dtype = "uint8"
    assert any("legacy uint8 quantization" in w for w in inspect_model(model).warnings)


def test_estimate_matches_simple_chain() -> None:
    model = load_model(zoo.tflite_model("digits_cnn", "int8"))
    # conv1 in (64) + out (512) are live together at the first op, and that is the largest pair
    assert estimate_peak_bytes(model) >= 64 + 512
    assert estimate_peak_bytes(model) <= sum(t.nbytes for t in model.tensors if not t.is_constant)


def test_layer_name() -> None:
    assert layer_name("m/conv2d_1/Relu;m/conv2d_1/BiasAdd") == "m/conv2d_1"
    assert layer_name("serving_default_x:0") == "serving_default_x:0"


def test_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "x.tflite"
    bad.write_bytes(np.arange(100, dtype=np.uint8).tobytes())
    assert main(["inspect", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "not a TFLite flatbuffer" in err
