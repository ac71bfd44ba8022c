"""The verify report on the native board, through the CLI as a user runs it: self-built regression and
classification heads, float models, labels good and bad, --save-outputs, JUnit testcases per check and
the HTML sections.  Real aot build, real host process, real serial byte stream, real TFLM reference."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from test_verify_metrics import fc_model
from tinydeploy.boards import get_board
from tinydeploy.cli import main
from tinydeploy.model.graph import load_model
from tinydeploy.reference import dequantize_output, quantize_input, run_reference

N = 30


def tflm_real(model: Path, x: np.ndarray) -> np.ndarray:
    graph = load_model(model)
    tensor = graph.input_tensors[0]
    q = quantize_input(x, tensor) if tensor.dtype != "float32" else x
    return dequantize_output(run_reference("tflm", model, [q])[0], graph.output_tensors[0]).reshape(len(x), -1)


def inputs_for(tmp_path: Path, n_in: int) -> tuple[Path, np.ndarray]:
    x = np.random.default_rng(7).uniform(-1, 1, (N, n_in)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    return tmp_path / "x.npy", x


def junit_cases(path: Path) -> dict[str, ET.Element]:
    return {case.get("name"): case for case in ET.parse(path).getroot().iter("testcase")}


def props(case: ET.Element) -> dict[str, str]:
    return {p.get("name"): p.get("value") for p in case.iter("property")}


def test_regression_head_against_float_targets(tmp_path):
    model = fc_model(8, 1)
    x_path, x = inputs_for(tmp_path, 8)
    targets = tflm_real(model, x)[:, 0] + 0.1  # the device matches TFLM exactly: rmse vs targets is 0.1
    np.save(tmp_path / "y.npy", targets.astype(np.float32))
    out = tmp_path / "out"
    args = ["run", str(model), "--board", "native", "--inputs", str(x_path), "--labels", str(tmp_path / "y.npy"),
            "--no-litert", "--report", str(out / "r.json"), "--junit", str(out / "r.xml"), "--html", str(out / "r.html"),
            "--save-outputs", str(out / "o.npz")]
    assert main([*args, "--max-rmse", "0.2"]) == 0
    data = json.loads((out / "r.json").read_text())
    row = data["outputs"][0]
    truth = row["labels"]["device"]
    assert row["task"] == "regression" and truth["rmse"] == pytest.approx(0.1, abs=1e-5)
    assert truth["mae"] == pytest.approx(0.1, abs=1e-5) and truth["cos"] > 0.9
    assert row["tflm"]["exact_match_rate"] == 1.0 and row["tflm"]["rmse"] == 0.0 and row["diff_unit"] == "LSB"
    assert data["fidelity"]["device_rmse"] == pytest.approx(0.1, abs=1e-5)

    saved = np.load(out / "o.npz")
    assert saved["device_0"].shape == (N, 1) and saved["device_0"].dtype == np.int8
    assert np.array_equal(saved["device_0"], saved["tflm_0"]) and saved["input_0"].shape == (N, 8)
    assert np.allclose(saved["labels_0"][:, 0], targets) and bool(saved["complete"]) and int(saved["n_inputs"]) == N
    page = (out / "r.html").read_text()
    assert "Regression: predicted vs true" in page and "predicted (device)" in page and "<circle" in page
    case = junit_cases(out / "r.xml")["fidelity.device_rmse"]
    assert props(case)["limit"] == "0.2" and float(props(case)["value"]) == pytest.approx(0.1, abs=1e-5)

    assert main([*args, "--max-rmse", "0.05"]) == 1  # the threshold holds the device to the ground truth
    assert junit_cases(out / "r.xml")["fidelity.device_rmse"].find("failure") is not None


def test_classifier_confusion_matrix_and_junit_testcases(tmp_path):
    model = fc_model(16, 4)
    x_path, x = inputs_for(tmp_path, 16)
    labels = tflm_real(model, x).argmax(axis=1)
    labels[:3] = (labels[:3] + 1) % 4  # three wrong labels: accuracy 27/30
    np.save(tmp_path / "y.npy", labels)
    out = tmp_path / "out"
    assert main(["run", str(model), "--board", "native", "--inputs", str(x_path), "--labels", str(tmp_path / "y.npy"),
                 "--no-litert", "--min-accuracy", "0.8", "--max-lsb", "0", "--report", str(out / "r.json"),
                 "--junit", str(out / "r.xml"), "--html", str(out / "r.html")]) == 0
    data = json.loads((out / "r.json").read_text())
    truth = data["outputs"][0]["labels"]["device"]
    matrix = np.array(truth["confusion_matrix"])
    assert truth["acc"] == pytest.approx(27 / 30) and matrix.sum() == N and np.trace(matrix) == 27
    assert len(truth["per_class_accuracy"]) == 4 and data["fidelity"]["device_accuracy"] == pytest.approx(0.9)
    cases = junit_cases(out / "r.xml")
    assert set(cases) == {"fidelity.tflm.exact_match_rate", "fidelity.tflm.max_abs_diff_lsb",
                          "fidelity.device_accuracy", "memory.arena_used_bytes"}
    exact = props(cases["fidelity.tflm.exact_match_rate"])
    assert exact["value"] == "1" and exact["limit"] == "1" and exact["compared"] == str(N) and exact["mismatches"] == "0"
    assert props(cases["fidelity.device_accuracy"])["value"] == "0.9"
    arena = props(cases["memory.arena_used_bytes"])  # aot plans the arena exactly: estimate == used
    assert arena["value"] == arena["limit"] == str(data["memory"]["arena_used_bytes"])
    assert data["memory"]["arena_estimate_bytes"] == data["memory"]["arena_used_bytes"] > 0
    page = (out / "r.html").read_text()
    assert 'class="cm"' in page and "rows: true class" in page and "<details><summary>Report data" in page


@pytest.mark.parametrize(("labels", "message"), [
    (np.array([0, 1, 7] * 10), "class index 7 is out of range: output 'y' has 4 classes (0..3)"),
    (np.arange(12) % 4, "12 labels for 30 inputs in"),
    (np.array(["a", "b", "c"] * 10), "the labels are strings"),
])
def test_bad_labels_stop_the_run_with_one_line(tmp_path, capsys, labels, message):
    x_path, _ = inputs_for(tmp_path, 16)
    np.save(tmp_path / "y.npy", labels)
    code = main(["run", str(fc_model(16, 4)), "--board", "native", "--inputs", str(x_path),
                 "--labels", str(tmp_path / "y.npy"), "--no-litert"])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err


def test_labels_without_inputs_are_a_usage_error(tmp_path, capsys):
    np.save(tmp_path / "y.npy", np.arange(20) % 4)  # random inputs would be scored against them
    code = main(["run", str(fc_model(16, 4)), "--board", "native", "--labels", str(tmp_path / "y.npy"), "--no-litert"])
    err = capsys.readouterr().err
    assert code == 2 and "labels need the inputs they belong to" in err and "--inputs" in err


def test_min_accuracy_with_regression_targets_is_a_usage_error(tmp_path, capsys):
    x_path, _ = inputs_for(tmp_path, 8)
    np.save(tmp_path / "y.npy", np.linspace(0, 1, N).astype(np.float32))
    code = main(["run", str(fc_model(8, 1)), "--board", "native", "--inputs", str(x_path),
                 "--labels", str(tmp_path / "y.npy"), "--min-accuracy", "0.9", "--no-litert"])
    err = capsys.readouterr().err
    assert code == 2 and "--min-accuracy needs class labels" in err and "--max-rmse" in err


def test_float_model_matches_within_tolerance_not_bit_for_bit(tmp_path):
    """A float32 model whose device outputs wobble by a few ulp (another FPU, another summation order):
    exact within the relative tolerance, reported without LSB; a real error still fails."""
    from tinydeploy import pipeline
    from tinydeploy.link import DeviceLink
    from tinydeploy.verify import Thresholds, verify_model
    from tinydeploy.verify.report import summary_rows
    from tinydeploy.verify.report import write_reports

    model = fc_model(8, 3, "float32")
    x = np.random.default_rng(1).uniform(-1, 1, (N, 8)).astype(np.float32)
    fw = pipeline.build_firmware(model, get_board("native"))

    def run(rtol: float, wobble: float):
        with pipeline.started_device(fw) as url, DeviceLink.open(url, timeout=2.0) as link:
            infer = link.infer

            def wobbly(sample):
                result = infer(sample)
                result.outputs = [o * np.float32(1 + wobble) for o in result.outputs]
                return result

            link.infer = wobbly
            return verify_model(link, model, x, board="native", progress=False, litert=False,
                                thresholds=Thresholds(float_rtol=rtol), arena_estimate=fw.arena_estimate)

    report = run(1e-5, 4e-7)
    tflm = report.fidelity["tflm"]
    assert report.passed and tflm["exact_match_rate"] == 1.0 and tflm["bit_exact_rate"] == 0.0
    assert tflm["max_abs_diff_lsb"] is None and 0 < tflm["max_rel_diff"] < 1e-6
    assert report.outputs[0]["diff_unit"] == "relative"
    assert [c.name for c in report.checks] == ["fidelity.tflm.exact_match_rate", "memory.arena_used_bytes"]
    assert not any("LSB" in value for _, value in summary_rows(report))
    page = write_reports(report, html_path=tmp_path / "r.html")[0].read_text()
    assert "(device - tflm) / max |tflm| of the sample" in page and "(LSB)" not in page
    assert not run(1e-5, 1e-3).passed  # 0.1 % off is not float rounding
