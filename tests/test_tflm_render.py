"""The tflm renderer: op list and resolver, arena sizing, model array, platformio.ini, for every real board.

Models come from the zoo (converted once, cached); TFLM's host interpreter (PyPI tflite-micro) measures the
arena in a child process.  The generated model array is compiled with arm-none-eabi-g++ and checked with
readelf/objcopy: its size, 16-byte alignment, read-only placement and contents.
"""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tinydeploy.boards import all_boards, get_board
from tinydeploy.errors import UserError
from tinydeploy.model.graph import load_model
from tinydeploy.render.tflm import DEFAULT_TFLM_GIT, DEFAULT_TFLM_REF, render_tflm
from tinydeploy.tflm import arena as arena_mod
from tinydeploy.tflm.ops import TFLM_OPS, resolver_method

REAL_BOARDS = [b for b in all_boards() if b.kind == "real"]
MODELS = ("residual_add", "act_mix", "mobilenet_tiny")


@pytest.fixture(scope="session")
def zoo_int8() -> dict[str, Path]:
    zoo = pytest.importorskip("tinydeploy.zoo")
    pytest.importorskip("tflite_micro")
    return {name: zoo.tflite_model(name, "int8") for name in MODELS}


def _ini(project: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(project / "platformio.ini")
    return parser


def _multiline(value: str) -> list[str]:
    return [line.strip() for line in value.strip().splitlines() if line.strip()]


@pytest.mark.parametrize("board", REAL_BOARDS, ids=lambda b: b.id)
@pytest.mark.parametrize("model_name", MODELS)
def test_render_every_real_board(zoo_int8, tmp_path, board, model_name):
    model_path = zoo_int8[model_name]
    model = load_model(model_path)
    result = render_tflm(model_path, board, tmp_path)

    # Exactly the model's ops, each once, with TFLM's resolver method and N = their count.
    assert [op.opcode for op in result.ops] == model.op_names
    assert result.op_count == len(model.op_names)
    runtime = (tmp_path / "src/tflm_runtime.cc").read_text()
    assert f"constexpr int kOpCount = {result.op_count};" in runtime
    assert "td_tflm::MicroMutableOpResolver<kOpCount>" in runtime
    calls = re.findall(r"resolver->(Add\w+)\(\)", runtime)
    assert calls == [resolver_method(op) for op in model.op_names]
    assert len(set(calls)) == len(calls)

    # The arena: measured, aligned, in the sketch, within the board's RAM.
    assert result.arena_bytes % 16 == 0
    assert result.arena is not None and result.arena_bytes >= result.arena.required
    assert f"constexpr size_t kArenaBytes = {result.arena_bytes};" in runtime
    assert result.arena_bytes < board.ram_bytes

    # The model array, aligned.
    data = (tmp_path / "src/model_data.cc").read_text()
    assert f"alignas(16) const unsigned char td_model_data[{len(model.raw)}]" in data

    # Arduino entry points drive the harness; td_platform comes with the sketch.
    sketch = (tmp_path / "src/sketch.cpp").read_text()
    assert "void setup()" in sketch and "td_harness_run();" in sketch and "void loop()" in sketch
    assert (tmp_path / "src/arduino_platform.cpp").is_file()

    # platformio.ini, parsed back, agrees with the board file.
    ini = _ini(tmp_path)
    env = ini[f"env:{board.id}"]
    assert env["platform"] == board.platformio.platform
    assert env["board"] == board.platformio.board
    assert env["framework"] == board.platformio.framework == "arduino"
    assert int(env["monitor_speed"]) == board.serial.baud
    assert _multiline(env["lib_deps"]) == [f"{DEFAULT_TFLM_GIT}#{DEFAULT_TFLM_REF}"]
    flags = [f.replace("-D ", "-D") for f in _multiline(env["build_flags"])]
    assert "-DTF_LITE_STATIC_MEMORY" in flags
    assert "-DTD_HARNESS_NO_MAIN" in flags
    assert env["custom_tinydeploy_model_sha256"] == model.sha256


def test_platform_counter_per_cpu(zoo_int8, tmp_path):
    """DWT cycle counter on Cortex-M4/M7 (M7 unlocks it), micros() scaled to cycles on the M0+."""
    m4 = (render_tflm(zoo_int8["residual_add"], get_board("nucleo-f446re"), tmp_path / "m4").project_dir
          / "src/arduino_platform.cpp").read_text()
    m7 = (render_tflm(zoo_int8["residual_add"], get_board("nucleo-h743zi"), tmp_path / "m7").project_dir
          / "src/arduino_platform.cpp").read_text()
    m0 = (render_tflm(zoo_int8["residual_add"], get_board("pico"), tmp_path / "m0").project_dir
          / "src/arduino_platform.cpp").read_text()
    assert '"cycles"' in m4 and "kDwtCyccnt" in m4 and "kDwtLar" not in m4
    assert "kDwtLar" in m7
    assert '"ticks"' in m0 and "micros()" in m0 and "kDwt" not in m0


def test_arena_option_and_margin(zoo_int8, tmp_path):
    board = get_board("nano33")
    path = zoo_int8["residual_add"]
    fixed = render_tflm(path, board, tmp_path / "fixed", arena_bytes=5000)
    assert fixed.arena_bytes == 5008  # rounded up to TFLM's 16-byte alignment
    assert "kArenaBytes = 5008;" in (tmp_path / "fixed/src/tflm_runtime.cc").read_text()
    small = render_tflm(path, board, tmp_path / "m0", arena_margin=0.0)
    large = render_tflm(path, board, tmp_path / "m50", arena_margin=0.5)
    assert small.arena_bytes == small.arena.required
    assert large.arena_bytes >= int(large.arena.required * 1.5)
    with pytest.raises(UserError, match="does not fit board nano33"):
        render_tflm(path, board, tmp_path / "huge", arena_bytes=board.ram_bytes)


def test_arena_estimate_is_32bit_corrected(zoo_int8):
    """The device estimate subtracts exactly half the 64-bit TfLiteEvalTensor bytes and adds CMSIS-NN scratch."""
    model = load_model(zoo_int8["mobilenet_tiny"])
    host = arena_mod.measure_host(model)
    assert host.total > 0 and not host.error
    eval_bytes = host.categories["TfLiteEvalTensor data"]
    assert eval_bytes % 24 == 0  # 24-byte structs on the 64-bit host
    est = arena_mod.estimate(model, host=host)
    assert est.eval_tensor_saving == eval_bytes // 2
    assert est.cmsis_scratch == arena_mod.cmsis_nn_scratch(model) > 0
    assert est.required == -(-(host.total - eval_bytes // 2 + est.cmsis_scratch) // 16) * 16
    no_cmsis = arena_mod.estimate(model, host=host, cmsis_nn=False)
    assert no_cmsis.required < est.required


def test_user_templates_override(zoo_int8, tmp_path):
    user = tmp_path / "templates" / "tflm"
    user.mkdir(parents=True)
    (user / "sketch.cpp.j2").write_text("// custom sketch for {{ board_id }} at {{ baud }}\n")
    render_tflm(zoo_int8["residual_add"], get_board("pico"), tmp_path / "p", templates_dir=tmp_path / "templates")
    assert (tmp_path / "p/src/sketch.cpp").read_text() == "// custom sketch for pico at 115200\n"
    (user / "sketch.cpp.j2").write_text("{{ no_such_variable }}\n")
    with pytest.raises(UserError, match="sketch.cpp.j2"):
        render_tflm(zoo_int8["residual_add"], get_board("pico"), tmp_path / "q", templates_dir=tmp_path / "templates")


def test_ops_table_names():
    expected = {"CONV_2D": "AddConv2D", "DEPTHWISE_CONV_2D": "AddDepthwiseConv2D",
                "FULLY_CONNECTED": "AddFullyConnected", "AVERAGE_POOL_2D": "AddAveragePool2D",
                "MAX_POOL_2D": "AddMaxPool2D", "RESHAPE": "AddReshape", "SOFTMAX": "AddSoftmax",
                "UNIDIRECTIONAL_SEQUENCE_LSTM": "AddUnidirectionalSequenceLSTM", "L2_POOL_2D": "AddL2Pool2D",
                "BATCH_TO_SPACE_ND": "AddBatchToSpaceNd", "PADV2": "AddPadV2", "LOG_SOFTMAX": "AddLogSoftmax"}
    for op, method in expected.items():
        assert TFLM_OPS[op].resolver_method == method
    assert resolver_method("CUSTOM:TFLite_Detection_PostProcess") == "AddDetectionPostprocess"
    assert resolver_method("TILE") is None
    for name, op in TFLM_OPS.items():
        assert re.fullmatch(r"Add[A-Z][A-Za-z0-9]*", op.resolver_method), name


def test_ops_table_matches_host_tflm_kernels():
    """Every op in the table has a kernel (Register_<OP>) in TFLM's own host build."""
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime")
    so = next(Path(runtime.__file__).parent.glob("_runtime*.so"))
    nm = shutil.which("nm")
    if nm is None:
        pytest.skip("nm (binutils) is not installed")
    symbols = subprocess.run([nm, "-D", "--defined-only", "-C", str(so)], capture_output=True, text=True,
                             check=True).stdout
    registered = set(re.findall(r"Register_([A-Z0-9_]+)\(\)", symbols))
    assert set(TFLM_OPS) - registered == set()


# --- the model array compiled for the device ---------------------------------------------------------

ARM_GXX = shutil.which("arm-none-eabi-g++")


@pytest.mark.skipif(ARM_GXX is None, reason="arm-none-eabi-g++ is not installed")
@pytest.mark.parametrize("board_id", ["nano33", "pico"])
def test_model_array_compiles_aligned_in_flash(zoo_int8, tmp_path, board_id):
    board = get_board(board_id)
    model_path = zoo_int8["act_mix"]
    raw = model_path.read_bytes()
    render_tflm(model_path, board, tmp_path)
    obj = tmp_path / "model_data.o"
    subprocess.run([ARM_GXX, f"-mcpu={board.cpu}", "-mthumb", "-Os", "-Wall", "-Wextra", "-Werror",
                    "-fdata-sections", "-c", str(tmp_path / "src/model_data.cc"), "-o", str(obj)], check=True)
    symbols = subprocess.run(["arm-none-eabi-readelf", "-sW", str(obj)], capture_output=True, text=True,
                             check=True).stdout
    sizes = {parts[7]: int(parts[2]) for parts in (ln.split() for ln in symbols.splitlines())
             if len(parts) >= 8 and parts[3] == "OBJECT"}
    assert sizes["td_model_data"] == len(raw)
    assert sizes["td_model_data_len"] == 4
    assert sizes["td_model_data_sha256"] == 32
    sections = subprocess.run(["arm-none-eabi-readelf", "-SW", str(obj)], capture_output=True, text=True,
                              check=True).stdout
    line = next(ln for ln in sections.splitlines() if ".rodata.td_model_data " in ln + " ")
    assert " A " in line and " WA " not in line  # allocated, not writable: flash
    assert int(line.split()[-1]) >= 16  # section alignment
    blob = tmp_path / "blob.bin"
    subprocess.run(["arm-none-eabi-objcopy", "-O", "binary", "-j", ".rodata.td_model_data", str(obj), str(blob)],
                   check=True)
    assert blob.read_bytes() == raw


def test_confirm_on_device_note():
    assert arena_mod.confirm_on_device(8000, 6000, 6080) == "arena 6000/8000 B used (75%), host estimate 6080 B (+80 B)"
    assert "no headroom" in arena_mod.confirm_on_device(8000, 7995)
    assert "did not report" in arena_mod.confirm_on_device(8000, 0)
