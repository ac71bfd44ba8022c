"""`deploy verify` on the fake device: a RESHAPE-only int8 model (tests/fixtures/harness/reshape_int8.tflite,
output == input) whose TFLM reference the identity fake runtime matches bit for bit; a non-identity
build of the same "model" does not.  Real TFLM and LiteRT references, real harness, real link."""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from tinydeploy import cli
from tinydeploy.errors import CheckFailed, LinkError, UserError
from tinydeploy.link import DeviceLink
from tinydeploy.link.transport import open_transport
from tinydeploy.model.graph import load_model
from tinydeploy.verify import Thresholds, verify_model, write_reports

FIXTURES = Path(__file__).parent / "fixtures" / "harness"
sys.path.insert(0, str(FIXTURES))
from fakedev import FakeDevice, FakeModel, FakeTensor, FaultyTransport, build  # noqa: E402

MODEL = FIXTURES / "reshape_int8.tflite"
FLOAT_MODEL = FIXTURES / "reshape_float.tflite"


def fake_for(model_path: Path, **kwargs) -> FakeModel:
    graph = load_model(model_path)

    def spec(t):
        return FakeTensor(t.shape, t.dtype, float(t.quant.scale[0]), int(t.quant.zero_point[0]))

    return FakeModel([spec(t) for t in graph.input_tensors], [spec(t) for t in graph.output_tensors],
                     sha256=graph.sha256, **kwargs)


@pytest.fixture(scope="module")
def exact_exe(tmp_path_factory):
    return build(fake_for(MODEL, identity=True), tmp_path_factory.mktemp("exact"))


@pytest.fixture(scope="module")
def wrong_exe(tmp_path_factory):
    return build(fake_for(MODEL, identity=False), tmp_path_factory.mktemp("wrong"))


@pytest.fixture
def inputs(tmp_path) -> Path:
    rng = np.random.default_rng(3)
    x = rng.uniform(-0.9, 0.9, (12, 32 * 32)).astype(np.float32)
    labels = rng.integers(0, 32 * 32, 12)
    x[np.arange(12), labels] = 0.99  # a clear maximum: labels the identity model gets right
    path = tmp_path / "x.npy"
    np.save(path, x.reshape(12, 32, 32))
    np.save(tmp_path / "y.npy", labels)
    return path


def dig(d: dict, dotted: str):
    for key in dotted.split("."):
        d = d[key]
    return d


REQUIRED_KEYS = ["board", "runtime", "model.sha256", "n_inputs", "fidelity.tflm.exact_match_rate",
                 "fidelity.tflm.max_abs_diff_lsb", "fidelity.litert.max_abs_error", "fidelity.litert.cosine_similarity",
                 "fidelity.float.max_abs_error", "fidelity.float.top1_agreement", "latency.unit", "latency.min",
                 "latency.median", "latency.p99", "latency.max", "memory.flash_bytes", "memory.ram_bytes",
                 "memory.arena_bytes", "link.retries", "link.payload_efficiency"]


def test_verify_passes_and_reports_everything(exact_exe, inputs, tmp_path):
    with FakeDevice(exact_exe) as dev, DeviceLink.open(dev.url, timeout=1.0) as link:
        report = verify_model(link, MODEL, inputs, inputs.parent / "y.npy", board="native", n=8,
                              float_model=FLOAT_MODEL, progress=False)
    report.check()
    assert report.passed and report.n_inputs == 8
    assert report.fidelity["tflm"] == {"compared": 8, "exact_match_rate": 1.0, "bit_exact_rate": 1.0, "mismatches": 0,
                                       "mismatched_samples": [], "max_abs_diff_lsb": 0}
    assert report.fidelity["litert"]["max_abs_error"] == 0.0
    assert 0 < report.fidelity["float"]["max_abs_error"] <= 0.5 * 0.0079 + 1e-6  # half an LSB of rounding
    assert report.fidelity["device_accuracy"] == 1.0
    assert report.latency["unit"] == "ns" and report.latency["min"] <= report.latency["median"] <= report.latency["max"]

    paths = write_reports(report, json_path=tmp_path / "out" / "r.json", junit_path=tmp_path / "r.xml",
                          html_path=tmp_path / "r.html")
    data = json.loads(paths[0].read_text())
    for key in REQUIRED_KEYS:
        dig(data, key)  # nested objects for the dotted names
    assert data["model"]["sha256"] == load_model(MODEL).sha256 and data["n_inputs"] == 8
    assert data["memory"]["arena_bytes"] == 4096 and data["link"]["retries"] == 0
    assert not [p for p in (tmp_path / "out").iterdir() if p.name != "r.json"]  # no temporary left behind
    suite = ET.parse(tmp_path / "r.xml").getroot()
    assert suite.get("failures") == "0" and int(suite.get("tests")) >= 1
    page = (tmp_path / "r.html").read_text()
    assert page.count("<svg") >= 3 and "<script" not in page and "src=" not in page
    for svg in page.split("<svg")[1:]:
        ET.fromstring("<svg" + svg.split("</svg>")[0] + "</svg>")  # well-formed inline SVG


def test_model_hash_mismatch_is_refused(exact_exe, inputs):
    with FakeDevice(exact_exe) as dev, DeviceLink.open(dev.url, timeout=1.0) as link:
        with pytest.raises(UserError, match="refusing to compare") as err:
            verify_model(link, FLOAT_MODEL, inputs, board="native", progress=False)
    assert "sha256" in str(err.value) and str(FLOAT_MODEL) in str(err.value)


def test_mismatching_device_fails_the_check(wrong_exe, inputs):
    with FakeDevice(wrong_exe) as dev, DeviceLink.open(dev.url, timeout=1.0) as link:
        report = verify_model(link, MODEL, inputs, board="native", n=4, progress=False,
                              thresholds=Thresholds(max_lsb_diff=0))
    assert report.fidelity["tflm"]["exact_match_rate"] == 0.0 and report.fidelity["tflm"]["max_abs_diff_lsb"] > 0
    assert [c.name for c in report.failed_checks] == ["fidelity.tflm.exact_match_rate",
                                                      "fidelity.tflm.max_abs_diff_lsb"]
    with pytest.raises(CheckFailed, match="exact_match_rate = 0"):
        report.check()


def test_link_death_keeps_a_partial_report(exact_exe, inputs):
    with FakeDevice(exact_exe, {"TD_FAULT_MUTE_AFTER": "6000"}) as dev:
        link = DeviceLink.open(dev.url, timeout=0.2, max_retries=2)
        with pytest.raises(LinkError) as err:
            verify_model(link, MODEL, inputs, board="native", progress=False)
        link.close()
    partial = err.value.partial_report
    assert 0 < partial.n_inputs < partial.n_requested == 12
    assert partial.interrupted.startswith("link failed") and not partial.passed
    assert partial.fidelity["tflm"]["exact_match_rate"] == 1.0


def test_ctrl_c_keeps_a_partial_report(exact_exe, inputs):
    with FakeDevice(exact_exe) as dev:
        link = DeviceLink(FaultyTransport(open_transport(dev.url), interrupt_at_invoke=4), timeout=1.0)
        with pytest.raises(KeyboardInterrupt) as err:
            verify_model(link, MODEL, inputs, board="native", progress=False)
        link.close()
    partial = err.value.partial_report
    assert partial.n_inputs == 3 and partial.interrupted == "interrupted (Ctrl-C)"


def test_cli_writes_reports_and_exits_by_result(exact_exe, wrong_exe, inputs, tmp_path):
    args = ["verify", "--board", "native", "--model", str(MODEL), "--inputs", str(inputs), "-n", "3",
            "--report", str(tmp_path / "ok.json"), "--junit", str(tmp_path / "ok.xml"), "--html", str(tmp_path / "ok.html")]
    with FakeDevice(exact_exe) as dev:
        assert cli.main([*args, "--port", dev.url]) == 0
    assert json.loads((tmp_path / "ok.json").read_text())["passed"] is True
    assert (tmp_path / "ok.xml").exists() and (tmp_path / "ok.html").exists()

    bad = ["verify", "--board", "native", "--model", str(MODEL), "--inputs", str(inputs), "-n", "3",
           "--report", str(tmp_path / "bad.json")]
    with FakeDevice(wrong_exe) as dev:
        assert cli.main([*bad, "--port", dev.url]) == 1
    assert json.loads((tmp_path / "bad.json").read_text())["passed"] is False


def test_cli_writes_the_partial_report_when_the_link_dies(exact_exe, inputs, tmp_path):
    out = tmp_path / "partial.json"
    with FakeDevice(exact_exe, {"TD_FAULT_MUTE_AFTER": "6000"}) as dev:
        status = cli.main(["verify", "--board", "native", "--port", dev.url, "--model", str(MODEL), "--inputs",
                           str(inputs), "--timeout", "0.2", "--report", str(out),
                           "--save-outputs", str(tmp_path / "partial.npz")])
    assert status == LinkError.exit_code
    data = json.loads(out.read_text())
    assert data["complete"] is False and 0 < data["n_inputs"] < 12
    saved = np.load(tmp_path / "partial.npz")  # what was measured before the link died, kept
    assert not bool(saved["complete"]) and int(saved["n_inputs"]) == data["n_inputs"]
    assert len(saved["device_0"]) == len(saved["tflm_0"]) == len(saved["input_0"]) == data["n_inputs"]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_device_arena_is_held_against_the_host_estimate(exact_exe, inputs):
    """The fake firmware reports a 4096 B arena of which it used 1234 B."""
    def run(estimate):
        with FakeDevice(exact_exe) as dev, DeviceLink.open(dev.url, timeout=1.0) as link:
            return verify_model(link, MODEL, inputs, board="native", n=2, progress=False, litert=False,
                                arena_estimate=estimate)

    ok = run(1300)
    assert ok.passed and ok.memory["arena_estimate_bytes"] == 1300 and ok.memory["arena_used_bytes"] == 1234
    assert ok.memory["arena_bytes"] == 4096
    low = run(1000)  # the device needed more than the host estimated: a failed check that says so
    assert [c.name for c in low.failed_checks] == ["memory.arena_used_bytes"]
    with pytest.raises(CheckFailed, match="the device used 1,234 B of its 4,096 B arena, more than the host "
                                          "estimate of 1,000 B"):
        low.check()
    assert not [c for c in run(None).checks if c.name.startswith("memory")]  # no estimate: nothing to hold
