"""--tflm-path / TFLM_PATH: both layouts detected in fake (empty-file) trees, clear errors, the project wiring."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tinydeploy.boards import get_board
from tinydeploy.errors import UserError
from tinydeploy.render.tflm import LOCAL_LIB_DIR, render_tflm
from tinydeploy.tflm.tree import ENV_VAR, detect, locate

COMMON = [
    "tensorflow/lite/micro/micro_interpreter.h",
    "tensorflow/lite/micro/micro_mutable_op_resolver.h",
    "tensorflow/lite/schema/schema_generated.h",
    "third_party/flatbuffers/include/flatbuffers/flatbuffers.h",
    "third_party/gemmlowp/fixedpoint/fixedpoint.h",
    "third_party/ruy/ruy/profiler/instrumentation.h",
]


def _tree(root: Path, layout: str, *, cmsis_nn: bool = False, va_list: bool = True) -> Path:
    suffix = ".cpp" if layout == "arduino" else ".cc"
    files = COMMON + [f"tensorflow/lite/micro/micro_interpreter{suffix}", "third_party/kissfft/kiss_fft.h",
                      f"tensorflow/lite/micro/{'arduino/' if layout == 'arduino' else ''}debug_log{suffix}"]
    if layout == "arduino":
        files.append("TensorFlowLite.h")
    if cmsis_nn:
        files += [f"tensorflow/lite/micro/kernels/cmsis_nn/conv{suffix}", "third_party/cmsis_nn/Include/arm_nnfunctions.h"]
    for rel in files:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("")
    log = "void DebugLog(const char* format, va_list args);\nint DebugVsnprintf(char*, size_t, const char*, va_list);\n"
    (root / "tensorflow/lite/micro/debug_log.h").write_text(log if va_list else "void DebugLog(const char* s);\n")
    return root


def test_tflm_tree_layout(tmp_path):
    tree = detect(_tree(tmp_path / "t", "tflm-tree", cmsis_nn=True))
    assert tree.layout == "tflm-tree" and tree.cmsis_nn
    assert tree.root / "third_party/flatbuffers/include" in tree.include_dirs
    assert tree.root / "third_party/cmsis_nn/Include" in tree.include_dirs
    assert "-DCMSIS_NN" in tree.build_flags()
    assert tree.umbrella_header == "" and tree.debug_log_takes_va_list and tree.debug_vsnprintf
    assert tree.has_debug_log
    (tree.root / "tensorflow/lite/micro/debug_log.cc").unlink()
    assert not detect(tree.root).has_debug_log


def test_arduino_layout_src_and_library_root(tmp_path):
    lib = tmp_path / "Arduino_TensorFlowLite"
    _tree(lib / "src", "arduino", va_list=False)
    (lib / "library.properties").write_text("name=Arduino_TensorFlowLite\n")
    for path in (lib / "src", lib):  # the src/ directory, or the library's root
        tree = detect(path)
        assert tree.layout == "arduino" and tree.root == (lib / "src").resolve()
        assert tree.include_dirs == (tree.root,)  # includes are already full third_party/... paths
        assert tree.umbrella_header == "TensorFlowLite.h"
        assert not tree.cmsis_nn and not tree.debug_log_takes_va_list
        assert not tree.has_debug_log  # only a create_tflm_tree.py tree's own debug_log.cc counts


SYSTEM_SETUP_PINNED = """#include "tensorflow/lite/micro/system_setup.h"
#if defined(ARDUINO) && !defined(ARDUINO_ARDUINO_NANO33BLE) && !defined(ARDUINO_SEEED_XIAO_NRF52840_SENSE)
#define ARDUINO_EXCLUDE_CODE
#endif  // defined(ARDUINO) && !defined(ARDUINO_ARDUINO_NANO33BLE)
#ifndef ARDUINO_EXCLUDE_CODE
extern "C" void DebugLog(const char* s) { Serial.print(s); }
#endif
"""


def test_arduino_glue_facts_are_read_from_the_tree(tmp_path):
    root = _tree(tmp_path / "t", "arduino")
    setup = root / "tensorflow/lite/micro/system_setup.cpp"
    setup.write_text(SYSTEM_SETUP_PINNED)
    tree = detect(root)
    assert tree.debug_log_boards == ("ARDUINO_ARDUINO_NANO33BLE", "ARDUINO_SEEED_XIAO_NRF52840_SENSE")
    assert tree.provides_debug_log(True, ("ARDUINO_ARDUINO_NANO33BLE",))
    assert not tree.provides_debug_log(True, ())  # another Arduino board: excluded code
    assert not tree.provides_debug_log(False, ("ARDUINO_ARDUINO_NANO33BLE",))  # bare metal: glue left out
    setup.write_text('#include "peripherals/peripherals.h"\nextern "C" void DebugLog(const char* s) { }\n')
    assert detect(root).debug_log_boards is None and detect(root).provides_debug_log(True, ())
    setup.write_text("namespace tflite { void InitializeTarget() {} }\n")
    assert detect(root).debug_log_boards == ()


def test_resolver_methods_are_read_from_the_header(tmp_path):
    root = _tree(tmp_path / "t", "arduino")
    assert detect(root).resolver_methods is None  # an empty header: nothing known, nothing checked
    (root / "tensorflow/lite/micro/micro_mutable_op_resolver.h").write_text(
        "  TfLiteStatus AddConv2D(\n      const TfLiteRegistration& registration = Register_CONV_2D()) {\n"
        "  TfLiteStatus AddSoftmax(const TfLiteRegistration& r = Register_SOFTMAX()) {\n")
    assert detect(root).resolver_methods == {"AddConv2D", "AddSoftmax"}


def test_tree_digest_follows_the_sources(tmp_path):
    root = _tree(tmp_path / "t", "arduino")
    before = detect(root).digest
    assert detect(root).digest == before
    (root / "tensorflow/lite/micro/micro_interpreter.cpp").write_text("// changed\n")
    assert detect(root).digest != before


def test_missing_pieces_are_named(tmp_path):
    root = _tree(tmp_path / "t", "tflm-tree")
    (root / "third_party/flatbuffers/include/flatbuffers/flatbuffers.h").unlink()
    (root / "tensorflow/lite/micro/micro_interpreter.cc").unlink()
    with pytest.raises(UserError) as info:
        detect(root)
    text = str(info.value)
    assert "flatbuffers.h" in text and "micro_interpreter.cc (or .cpp)" in text and "create_tflm_tree.py" in text
    with pytest.raises(UserError, match="no such directory"):
        detect(tmp_path / "nowhere")


def test_env_var(tmp_path, monkeypatch):
    root = _tree(tmp_path / "t", "tflm-tree")
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert locate(None) is None
    monkeypatch.setenv(ENV_VAR, str(root))
    assert locate(None).root == root.resolve()
    assert locate(tmp_path / "t").root == root.resolve()  # the option wins over the variable too


@pytest.fixture(scope="module")
def model_path() -> Path:
    zoo = pytest.importorskip("tinydeploy.zoo")
    pytest.importorskip("tflite_micro")
    return zoo.tflite_model("residual_add", "int8")


@pytest.mark.parametrize("layout", ["tflm-tree", "arduino"])
def test_emulated_board_uses_local_tree(model_path, tmp_path, monkeypatch, layout):
    monkeypatch.delenv(ENV_VAR, raising=False)
    root = _tree(tmp_path / "tflm", layout, cmsis_nn=True).resolve()
    board = get_board("qemu-m4")
    result = render_tflm(model_path, board, tmp_path / "p", tflm_path=root)
    project = tmp_path / "p"
    manifest = json.loads((project / LOCAL_LIB_DIR / "library.json").read_text())
    assert manifest["build"]["srcDir"] == str(root) == manifest["build"]["includeDir"]
    assert f"-I{root}" in manifest["build"]["flags"] and "-DTF_LITE_STATIC_MEMORY" in manifest["build"]["flags"]
    assert "-<**/*_test.cc>" in manifest["build"]["srcFilter"]
    assert result.lib_deps == ["tflite-micro-local"] == [manifest["name"]]
    ini = (project / "platformio.ini").read_text()
    assert "tflite-micro-local" in ini and "github.com" not in ini  # the local library, nothing fetched
    assert f"-I {root}" in ini or f"-I{root}" in ini
    assert "-DCMSIS_NN" in ini
    assert not (project / "src/sketch.cpp").exists()  # the harness owns main() on bare metal
    assert (project / "src/td_tflm_debug_log.cc").exists() == (layout == "arduino")
    # The Arduino library off the Arduino framework: built with ARDUINO defined, its board glue left out and
    # replaced, and TensorFlowLite.h (which pulls in peripherals/) not included.
    assert (project / "src/td_tflm_platform.cc").exists() == (layout == "arduino")
    assert ("-DARDUINO=100" in ini) == (layout == "arduino")
    glue = {"-<tensorflow/lite/micro/system_setup.cpp>", "-<tensorflow/lite/micro/micro_time.cpp>", "-<peripherals/>"}
    assert glue <= set(manifest["build"]["srcFilter"]) or layout == "tflm-tree"
    runtime = (project / "src/tflm_runtime.cc").read_text()
    assert "#include <TensorFlowLite.h>" not in runtime
    assert manifest["build"]["libArchive"] is True  # the archive the build cache keeps
    marker = json.loads((project / LOCAL_LIB_DIR / "tinydeploy-libcache.json").read_text())
    assert marker["name"] == "tflite-micro-local" and len(marker["key"]) == 24


def test_arduino_board_with_local_arduino_tree(model_path, tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    root = _tree(tmp_path / "tflm", "arduino").resolve()
    result = render_tflm(model_path, get_board("nano33"), tmp_path / "p", tflm_path=root)
    assert result.lib_deps == ["tflite-micro-local"]
    src = tmp_path / "p/src"
    assert (src / "sketch.cpp").exists() and (src / "arduino_platform.cpp").exists()
    # This tree has no system_setup.cpp, so nothing in it defines DebugLog: the project does.
    assert (src / "td_tflm_debug_log.cc").exists()
    assert not (src / "td_tflm_platform.cc").exists()  # the Arduino build keeps the library's glue
    assert "-DARDUINO" not in (tmp_path / "p/platformio.ini").read_text()  # the core defines it
    assert "#include <TensorFlowLite.h>" in (src / "tflm_runtime.cc").read_text()


def test_emulated_board_without_tree_is_a_clear_error(model_path, tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    with pytest.raises(UserError, match="needs a local TFLM tree") as info:
        render_tflm(model_path, get_board("qemu-m4"), tmp_path / "p")
    assert "TFLM_PATH" in str(info.value)
