"""The generated C++ glue compiled with the real cross compiler, warning-free.

TFLM's and the Arduino cores' headers are not available here (and must never be copied in), so the test writes
minimal stand-ins that declare only the API the templates use, with the names and signatures of TFLM's
micro_interpreter.h / micro_mutable_op_resolver.h and of Arduino's core (facts checked against their public
headers).  This catches template syntax, types and warnings; the real library is linked on a user's machine.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tinydeploy.boards import get_board
from tinydeploy.paths import firmware_dir
from tinydeploy.render.tflm import render_tflm
from tinydeploy.tflm.ops import TFLM_OPS

ARM_GXX = shutil.which("arm-none-eabi-g++")
pytestmark = pytest.mark.skipif(ARM_GXX is None, reason="arm-none-eabi-g++ is not installed")

FAKE_COMMON = """\
#pragma once
#include <stddef.h>
#include <stdint.h>
typedef enum { kTfLiteOk = 0, kTfLiteError = 1 } TfLiteStatus;
typedef enum { kTfLiteNoType = 0, kTfLiteFloat32 = 1, kTfLiteInt32 = 2, kTfLiteUInt8 = 3, kTfLiteInt64 = 4,
               kTfLiteInt16 = 7, kTfLiteInt8 = 9 } TfLiteType;
typedef struct { int size; int data[]; } TfLiteIntArray;
typedef struct { float scale; int32_t zero_point; } TfLiteQuantizationParams;
typedef union { void *raw; int8_t *int8; float *f; } TfLitePtrUnion;
typedef struct { TfLiteType type; TfLitePtrUnion data; TfLiteIntArray *dims; TfLiteQuantizationParams params;
                 size_t bytes; } TfLiteTensor;
"""
FAKE_SCHEMA = """\
#pragma once
#include <stdint.h>
#define TFLITE_SCHEMA_VERSION (3)
namespace tflite {
struct Model { uint32_t version() const { return 3; } };
inline const Model *GetModel(const void *buf) { return static_cast<const Model *>(buf); }
}
"""
FAKE_INTERPRETER = """\
#pragma once
#include "tensorflow/lite/c/common.h"
#include "tensorflow/lite/schema/schema_generated.h"
NAMESPACE_OPEN
class MicroOpResolver { public: virtual ~MicroOpResolver() {} };
class MicroInterpreter {
 public:
  MicroInterpreter(const Model *model, const MicroOpResolver &op_resolver, uint8_t *tensor_arena,
                   size_t tensor_arena_size);
  TfLiteStatus AllocateTensors();
  TfLiteStatus Invoke();
  TfLiteTensor *input(size_t index);
  TfLiteTensor *output(size_t index);
  size_t inputs_size() const;
  size_t outputs_size() const;
  size_t arena_used_bytes() const;
};
NAMESPACE_CLOSE
"""


def _fake_resolver() -> str:
    methods = "\n".join(f"  TfLiteStatus {op.resolver_method}();" for op in TFLM_OPS.values())
    return ("#pragma once\n#include \"tensorflow/lite/micro/micro_interpreter.h\"\nNAMESPACE_OPEN\n"
            "template <unsigned int tOpCount>\nclass MicroMutableOpResolver : public MicroOpResolver {\n"
            f" public:\n{methods}\n}};\nNAMESPACE_CLOSE\n")


# Where TFLM keeps its classes: tflite (up to 2025, the pinned Arduino library) or tflite::micro (2026 on).
NAMESPACES = {"tflite": ("namespace tflite {", "}"),
              "tflite::micro": ("namespace tflite { namespace micro {", "} }")}


FAKE_ARDUINO = """\
#pragma once
#include <stddef.h>
#include <stdint.h>
unsigned long millis(void);
unsigned long micros(void);
void yield(void);
class FakeSerial {
 public:
  void begin(unsigned long baud);
  size_t write(const uint8_t *buffer, size_t size);
  int available(void);
  int read(void);
  void flush(void);
  operator bool();
};
extern FakeSerial Serial;
"""


@pytest.fixture(scope="module", params=list(NAMESPACES))
def fake_includes(request, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fake_headers")
    opening, closing = NAMESPACES[request.param]
    files = {
        "tensorflow/lite/c/common.h": FAKE_COMMON,
        "tensorflow/lite/schema/schema_generated.h": FAKE_SCHEMA,
        "tensorflow/lite/micro/micro_interpreter.h": FAKE_INTERPRETER,
        "tensorflow/lite/micro/micro_mutable_op_resolver.h": _fake_resolver(),
        "TensorFlowLite.h": "#pragma once\n",
        "Arduino.h": FAKE_ARDUINO,
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text.replace("NAMESPACE_OPEN", opening).replace("NAMESPACE_CLOSE", closing))
    return root


@pytest.fixture(scope="module")
def model_path() -> Path:
    zoo = pytest.importorskip("tinydeploy.zoo")
    pytest.importorskip("tflite_micro")
    return zoo.tflite_model("mobilenet_tiny", "int8")


def _compile(src: Path, cpu: str, includes: list[Path], out: Path, extra: tuple[str, ...] = ()) -> None:
    argv = [ARM_GXX, f"-mcpu={cpu}", "-mthumb", "-Os", "-std=gnu++17", "-Wall", "-Wextra", "-Werror",
            "-fno-rtti", "-fno-exceptions", "-fno-threadsafe-statics", "-DTF_LITE_STATIC_MEMORY", *extra,
            *[f"-I{p}" for p in includes], "-c", str(src), "-o", str(out)]
    proc = subprocess.run(argv, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("board_id", ["nano33", "nucleo-h743zi", "pico"])
def test_sketch_glue_compiles(fake_includes, model_path, tmp_path, board_id):
    board = get_board(board_id)
    render_tflm(model_path, board, tmp_path)
    includes = [fake_includes, tmp_path / "src", tmp_path / "include", firmware_dir() / "include",
                firmware_dir() / "harness"]
    for name in ("tflm_runtime.cc", "sketch.cpp", "arduino_platform.cpp"):
        _compile(tmp_path / "src" / name, board.cpu, includes, tmp_path / f"{name}.o")
    symbols = subprocess.run(["arm-none-eabi-nm", "-C", str(tmp_path / "tflm_runtime.cc.o")], capture_output=True,
                             text=True, check=True).stdout
    for fn in ("td_runtime_init", "td_runtime_invoke", "td_arena_used_bytes", "td_model_sha256",
               "td_input_spec", "td_output_data"):
        assert f" T {fn}" in symbols
    assert "AddDepthwiseConv2D()" in symbols and "AddConv2D()" in symbols  # the resolver calls link against TFLM


@pytest.mark.parametrize("va_list", [True, False])
def test_debug_log_glue_compiles(tmp_path, va_list):
    from tinydeploy.render.tflm import Templates

    text = Templates(None).render("td_tflm_debug_log.cc.j2", va_list=va_list, vsnprintf=va_list)
    src = tmp_path / "td_tflm_debug_log.cc"
    src.write_text(text)
    _compile(src, "cortex-m4", [], tmp_path / "log.o")
    symbols = subprocess.run(["arm-none-eabi-nm", str(tmp_path / "log.o")], capture_output=True, text=True,
                             check=True).stdout
    assert " T DebugLog" in symbols and " T td_tflm_last_log" in symbols
    assert (" T DebugVsnprintf" in symbols) == va_list
