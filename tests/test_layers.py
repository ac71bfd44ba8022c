"""Per-layer profiling and the layer-by-layer diff (`--layers`, docs/protocol.md "Layers") on the native board.

The firmware is the real harness + native platform + the aot code generated for a small CNN the test builds
(conv, depthwise, max pool, 1x1 conv, global average pool, dense, softmax), compiled with the host gcc and
-DTD_LAYERS; the corrupt build adds the test-only -DTD_TEST_CORRUPT_LAYER=<op>, which flips one byte of that
operator's result.  Real link, real TFLM host interpreter for the intermediate tensors.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinydeploy.aot.codegen import generate
from tinydeploy.aot.lowering import TargetFeatures
from tinydeploy.errors import LinkError, UserError
from tinydeploy.flash.native import NativeRunner
from tinydeploy.link import DeviceLink
from tinydeploy.link import protocol as P
from tinydeploy.macs import op_macs
from tinydeploy.model.graph import load_model
from tinydeploy.paths import firmware_dir
from tinydeploy.verify import verify_model, write_reports
from tinydeploy.verify.layers import (compare_tensor, describe_divergence, html_fragment, layers_table,
                                      measure_layers)

from aotutil import single_op_tflite

FIXTURES = Path(__file__).parent / "fixtures" / "harness"
CORRUPT_OP = 3  # the 1x1 CONV_2D


def small_cnn(x):
    import tf_keras as keras

    y = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(x)
    y = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu6")(y)
    y = keras.layers.MaxPooling2D(2)(y)
    y = keras.layers.Conv2D(12, 1, activation="relu")(y)
    y = keras.layers.GlobalAveragePooling2D()(y)
    y = keras.layers.Dense(10)(y)
    return keras.layers.Softmax()(y)


@pytest.fixture(scope="module")
def model_path() -> Path:
    return single_op_tflite(small_cnn, [(1, 12, 12, 2)], key="test_layers-small-cnn-v1")


def build_firmware(model_path: Path, out: Path, flags: list[str]) -> Path:
    """harness + native platform + generated aot model, compiled for the host."""
    program = generate(load_model(model_path), TargetFeatures(cpu="host", optimized=True))
    program.write(out)
    fw = firmware_dir()
    sources = [*sorted((fw / "harness").glob("*.c")), fw / "platform" / "native" / "native_platform.c",
               out / "model.c", *program.kernel_sources]
    if not any(f.startswith("-DTD_TX_BUF=") for f in flags):
        flags = [*flags, "-DTD_TX_BUF=256"]
    cmd = ["gcc", "-std=gnu99", "-O1", "-Wall", "-Wextra", "-Werror", "-ffp-contract=off", *flags, f"-I{out}", f"-I{fw / 'harness'}", f"-I{fw / 'include'}",
           *[f"-I{d}" for d in program.include_dirs], *map(str, sources), "-o", str(out / "firmware"), "-lm"]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return out / "firmware"


@pytest.fixture(scope="module")
def layers_exe(model_path, tmp_path_factory) -> Path:
    return build_firmware(model_path, tmp_path_factory.mktemp("layers"), ["-DTD_LAYERS"])


@pytest.fixture(scope="module")
def corrupt_exe(model_path, tmp_path_factory) -> Path:
    return build_firmware(model_path, tmp_path_factory.mktemp("corrupt"),
                          ["-DTD_LAYERS", f"-DTD_TEST_CORRUPT_LAYER={CORRUPT_OP}"])


def samples(n: int, seed: int = 0) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [[rng.integers(-128, 128, (1, 12, 12, 2), dtype=np.int8)] for _ in range(n)]


def test_latency_table_covers_every_layer(layers_exe, model_path):
    model = load_model(model_path)
    with NativeRunner(layers_exe) as run, DeviceLink.open(run.url) as link:
        section = measure_layers(link, model, samples(2))
    rows = section["layers"]
    assert [r["opcode"] for r in rows] == ["CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", "CONV_2D", "MEAN",
                                           "FULLY_CONNECTED", "SOFTMAX"]
    assert [r["op"] for r in rows] == list(range(7))
    assert all(r["latency"] > 0 for r in rows) and section["unit"] == "ns" and section["samples"] == 2
    assert sum(r["share"] for r in rows) == pytest.approx(1.0)
    assert [r["macs"] for r in rows] == [op_macs(model, model.operators[r["op"]]) for r in rows]
    assert rows[0]["per_mac"] == pytest.approx(rows[0]["latency"] / rows[0]["macs"])
    assert section["layers_total"] <= section["invoke_latency"]
    text = layers_table(section)
    lines = text.splitlines()
    costs = [float(line.split()[3].replace(",", "")) for line in lines[1:8]]
    assert costs == sorted(costs, reverse=True)  # most expensive first
    assert "outside the layers" in text and "DEPTHWISE_CONV_2D" in text


def test_every_layer_output_matches_tflm(layers_exe, model_path):
    with NativeRunner(layers_exe) as run, DeviceLink.open(run.url) as link:
        section = measure_layers(link, load_model(model_path), samples(1, seed=1), outputs=True)
    assert section["outputs_compared"] and section["first_divergence"] is None
    assert all(r["diff"]["mismatches"] == 0 for r in section["layers"])
    assert "every layer output matches TFLM bit for bit" in layers_table(section)


def test_corrupt_layer_is_named(corrupt_exe, model_path, tmp_path):
    """The test-only build flag breaks op #3's result; the diff names that layer, not an earlier or later one."""
    model = load_model(model_path)
    x = np.concatenate([s[0] for s in samples(3, seed=2)])
    with NativeRunner(corrupt_exe) as run, DeviceLink.open(run.url) as link:
        report = verify_model(link, model_path, x, board="native", progress=False, litert=False, layers="outputs")
    section = report.extras["layers"]
    first = section["first_divergence"]
    assert first["op"] == CORRUPT_OP and first["opcode"] == "CONV_2D"
    assert first["tensor"] == model.tensors[model.operators[CORRUPT_OP].outputs[0]].name
    assert first["mismatches"] == 1 and first["where"] == [0, 0, 0, 0] and first["max_abs_diff"] > 0
    assert all(r["diff"]["mismatches"] == 0 for r in section["layers"][:CORRUPT_OP])
    out = model.tensors[model.operators[CORRUPT_OP].outputs[0]]
    assert first["diff_unit"] == "LSB"
    assert first["max_abs_diff_real"] == pytest.approx(first["max_abs_diff"] * float(out.quant.scale[0]))
    text = layers_table(section)
    assert f"first diverging layer: #{CORRUPT_OP} CONV_2D" in text
    assert f"max |diff| {first['max_abs_diff']} LSB (" in text and " in real units)" in text
    written = write_reports(report, json_path=tmp_path / "r.json", html_path=tmp_path / "r.html")
    data = json.loads(written[0].read_text())
    assert data["layers"]["first_divergence"]["op"] == CORRUPT_OP and len(data["layers"]["layers"]) == 7
    page = written[1].read_text()
    assert 'id="layers"' in page and "latency per layer" in page and 'fill="#c33"' in page


def test_device_never_overruns_whatever_the_host_asks(layers_exe, model_path):
    """Out-of-range layers, offsets and lengths, malformed payloads and reads of outputs the arena no longer
    holds are refused with an ERROR; oversize reads are cut to one frame."""
    model = load_model(model_path)
    with NativeRunner(layers_exe) as run, DeviceLink.open(run.url) as link:
        def refused(ftype: int, payload: bytes, words: str) -> None:
            with pytest.raises(LinkError, match=words):
                link._request(ftype, payload)

        refused(P.READ_LAYER, P.READ_LAYER_REQ.pack(0, 0, 16), "layer output not held")
        refused(P.LAYERS, P.LAYERS_REQ.pack(100), "beyond the last layer")
        refused(P.PROFILE, P.PROFILE_REQ.pack(7), "beyond the last layer")
        refused(P.PROFILE, b"\x01", "PROFILE payload")
        refused(P.READ_LAYER, b"\x00" * 7, "READ_LAYER payload")
        link.profile_next(1)
        link.infer(samples(1)[0])
        nbytes = model.tensors[model.operators[1].outputs[0]].nbytes
        refused(P.READ_LAYER, P.READ_LAYER_REQ.pack(2, 0, 16), "layer output not held")
        refused(P.READ_LAYER, P.READ_LAYER_REQ.pack(9, 0, 16), "no such layer")
        refused(P.READ_LAYER, P.READ_LAYER_REQ.pack(1, nbytes + 1, 16), "beyond the layer's output")
        reply = link._request(P.READ_LAYER, P.READ_LAYER_REQ.pack(1, nbytes - 3, 0xFFFF))
        assert len(reply.payload) == P.LAYER_OUT_HEAD.size + 3  # what is left, not 64 KB
        reply = link._request(P.READ_LAYER, P.READ_LAYER_REQ.pack(1, 0, 0xFFFF))
        assert len(reply.payload) == 256 - P.OVERHEAD  # one TD_TX_BUF frame at most
        assert len(link.read_layer(1, nbytes)) == nbytes
        link._request(P.INPUT, P.OFFSET.pack(0) + b"\x00" * 8)  # new input bytes overwrite the arena
        refused(P.READ_LAYER, P.READ_LAYER_REQ.pack(1, 0, 16), "layer output not held")
        page = link.layers()
        assert page.count == 7 and [e.op for e in page.entries] == list(range(7))
        link.infer(samples(1)[0])  # an unprofiled inference after all that still works
        assert not link.layers().timed


def test_firmware_without_layers_gets_a_clear_error(model_path, tmp_path):
    sys.path.insert(0, str(FIXTURES))
    from fakedev import FakeDevice, FakeModel, FakeTensor, build

    exe = build(FakeModel([FakeTensor((1, 4))], [FakeTensor((1, 4))]), tmp_path)
    with FakeDevice(exe) as dev, DeviceLink.open(dev.url) as link:
        with pytest.raises(UserError, match="no per-layer support") as err:
            measure_layers(link, load_model(model_path), [[np.zeros((1, 4), np.int8)]])
    assert "--layers" in str(err.value)


def test_layers_reply_is_checked():
    entry = P.LAYER_ENTRY.pack(0, 1, 4, 9)
    good = P.LAYERS_HEAD.pack(P.LAYERS_VERSION, 1, 1, 0, 1) + entry
    assert P.parse_layers(good).entries[0] == P.LayerEntry(0, 1, 4, 9)
    for bad, words in ((good[:-1], "announces 1 entries"), (good[:3], "shorter than its header"),
                       (P.LAYERS_HEAD.pack(9, 0, 1, 0, 1) + entry, "version 9"),
                       (P.LAYERS_HEAD.pack(P.LAYERS_VERSION, 0, 1, 1, 1) + entry, "beyond")):
        with pytest.raises(ValueError, match=words):
            P.parse_layers(bad)


def test_compare_tensor_says_where():
    ref = np.zeros((1, 2, 3, 4), np.int8)
    dev = ref.copy()
    dev[0, 1, 2, 3] = 5
    dev[0, 0, 0, 1] = -2
    diff = compare_tensor(dev.reshape(-1), ref, (1, 2, 3, 4))
    assert diff["mismatches"] == 2 and diff["max_abs_diff"] == 5 and diff["where"] == [0, 1, 2, 3]
    assert (diff["device"], diff["reference"]) == (5, 0)
    assert html_fragment(None) == "" and html_fragment({"layers": []}) == ""


def test_divergence_line_says_the_unit():
    """An int8 layer's difference is in LSB and, through its scale, in real units; a float layer's is real."""
    row = {"layer": 2, "op": 2, "opcode": "ADD", "tensor": "t", "mismatches": 3, "where": [0, 1],
           "device": 7, "reference": 4, "max_abs_diff": 3}
    int8 = {"outputs_compared": True, "layers": [{}] * 3,
            "first_divergence": row | {"diff_unit": "LSB", "max_abs_diff_real": 0.375}}
    assert "max |diff| 3 LSB (0.375 in real units) at [0, 1] (device 7, tflm 4), 3 values differ" \
        in describe_divergence(int8)
    unquantized = int8 | {"first_divergence": row | {"diff_unit": "LSB", "max_abs_diff_real": None}}
    assert "max |diff| 3 LSB at [0, 1]" in describe_divergence(unquantized)
    real = int8 | {"first_divergence": row | {"max_abs_diff": 0.5, "diff_unit": "real"}}
    assert "max |diff| 0.5 at [0, 1]" in describe_divergence(real)


def test_cli_without_layer_support_keeps_the_verify_report(tmp_path, capsys):
    """`deploy verify --layers` on firmware built without it: exit 2 with the rebuild hint, and the report of
    the inferences already verified is still written."""
    from tinydeploy import cli

    sys.path.insert(0, str(FIXTURES))
    from fakedev import FakeDevice, build
    from test_verify import MODEL, fake_for

    exe = build(fake_for(MODEL, identity=True), tmp_path / "fake")
    x = np.random.default_rng(0).uniform(-0.9, 0.9, (2, 32, 32)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    with FakeDevice(exe) as dev:
        status = cli.main(["verify", "--board", "native", "--port", dev.url, "--model", str(MODEL), "--inputs",
                           str(tmp_path / "x.npy"), "--no-litert", "--layers", "--report", str(tmp_path / "r.json")])
    err = capsys.readouterr().err
    assert status == 2 and "no per-layer support" in err and "--layers" in err and "Traceback" not in err
    assert json.loads((tmp_path / "r.json").read_text())["n_inputs"] == 2


def test_many_layers_and_big_outputs_in_small_frames(tmp_path):
    """16 layers and 2 KB layer outputs through 160-byte frames: LAYERS answered in pages, each output read
    in 148-byte chunks, and still every layer matches TFLM."""
    from aotutil_builder import OpSpec, TensorSpec, write_tflite

    n = 16
    tensors = [TensorSpec((1, 16, 16, 8), "int8", scale=0.05 * (1 + k % 3), zero_point=k % 5 - 2, name=f"relu_{k}")
               for k in range(n + 1)]
    path = write_tflite(tensors, [OpSpec("RELU", [k], [k + 1]) for k in range(n)], [0], [n])
    exe = build_firmware(path, tmp_path, ["-DTD_LAYERS", "-DTD_TX_BUF=160"])
    x = [np.random.default_rng(5).integers(-128, 128, (1, 16, 16, 8), dtype=np.int8)]
    with NativeRunner(exe) as run, DeviceLink.open(run.url) as link:
        assert link.info.max_output_chunk == 160 - 10 and len(link._layers_page(0).entries) < n
        section = measure_layers(link, load_model(path), [x], outputs=True)
    assert [r["op"] for r in section["layers"]] == list(range(n))
    assert section["first_divergence"] is None and all(r["bytes"] == 2048 for r in section["layers"])


def test_piped_layer_table_keeps_the_tensor_names() -> None:
    """Piped into a file or a CI log (no terminal) the table is not squeezed into 80 columns: the output tensor
    column, the last and the one rich drops first, is still there."""
    names = [f"sequential/block_{i}_expand/Conv2D;sequential/block_{i}_expand/BiasAdd" for i in range(3)]
    rows = [{"op": i, "opcode": "CONV_2D", "macs": 884_736, "latency": 4_581_700.0 - i, "per_mac": 5.18,
             "share": 0.14, "tensor": name} for i, name in enumerate(names)]
    section = {"runtime": "aot", "unit": "instructions", "label": "instructions (emulated)", "samples": 1,
               "invoke_latency": 2e7, "layers_total": sum(r["latency"] for r in rows), "layers": rows,
               "outputs_compared": False, "first_divergence": None, "outside_layers": 1000.0}
    code = ("import json, sys; from tinydeploy.verify.layers import print_layers; "
            "print_layers(json.loads(sys.stdin.read()))")
    out = subprocess.run([sys.executable, "-c", code], input=json.dumps(section), capture_output=True, text=True,
                         timeout=60, check=True).stdout
    for i in range(3):
        assert f"block_{i}_expand/Conv2D" in out


@pytest.mark.parametrize("kind", ["while_loop", "variables"])
def test_layers_on_models_they_cannot_profile_is_refused_before_the_build(kind: str, tmp_path: Path, capsys) -> None:
    """A WHILE model (its subgraphs run inline) and a stateful model (profiling runs would advance its state):
    `deploy run --layers` says why in one line, before building anything."""
    from test_aot_ops_control_flow import _loop_module
    from test_aot_ops_variables import _convert_module, _counter_module
    from tinydeploy import cli

    path = (_convert_module(_loop_module, "loop-v2") if kind == "while_loop"
            else _convert_module(_counter_module, "counter-v3"))
    status = cli.main(["run", str(path), "--board", "native", "-n", "2", "--layers", "--no-litert"])
    err = capsys.readouterr().err
    assert status == 2 and "Traceback" not in err, err
    assert "--layers cannot profile this model on aot" in err and "run without --layers" in err
