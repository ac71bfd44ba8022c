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
        assert not tree.has_debug_log  # its DebugLog is in arduino/, which the build leaves out


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
    runtime = (project / "src/tflm_runtime.cc").read_text()
    assert ("#include <TensorFlowLite.h>" in runtime) == (layout == "arduino")


def test_arduino_board_with_local_arduino_tree(model_path, tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    root = _tree(tmp_path / "tflm", "arduino").resolve()
    result = render_tflm(model_path, get_board("nano33"), tmp_path / "p", tflm_path=root)
    assert result.lib_deps == ["tflite-micro-local"]
    src = tmp_path / "p/src"
    assert (src / "sketch.cpp").exists() and (src / "arduino_platform.cpp").exists()
    assert (src / "td_tflm_debug_log.cc").exists()  # arduino/debug_log.cpp (Serial) is left out


def test_emulated_board_without_tree_is_a_clear_error(model_path, tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    with pytest.raises(UserError, match="needs a local TFLM tree") as info:
        render_tflm(model_path, get_board("qemu-m4"), tmp_path / "p")
    assert "TFLM_PATH" in str(info.value)
