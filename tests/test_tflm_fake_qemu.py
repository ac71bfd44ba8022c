"""The tflm sketch's bare-metal path end to end on qemu-m4, with a stand-in create_tflm_tree.py tree.

TFLM's sources are not available here (test_tflm_qemu.py runs the real thing when TFLM_PATH is set).  This test
writes a tiny stand-in tree from scratch -- the MicroInterpreter/MicroMutableOpResolver API the sketch uses, a
trivial "interpreter" (one int8 [1,4] input, output = input + 1, arena use = 100 B per registered op + 8) --
in the tflm-tree layout (`.cc` sources, no Arduino glue), and checks the generated library.json and
platformio.ini under PlatformIO, the harness link, HELLO (runtime, model hash, arena size and use, specs) and an
inference.  The Arduino library's layout, guards and glue have their own stand-in: test_tflm_standin_*.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tinydeploy.boards import get_board
from tinydeploy.tflm.ops import TFLM_OPS
from tinydeploy.render.tflm import render_tflm

pytestmark = [pytest.mark.qemu, pytest.mark.slow]

COMMON_H = r'''#pragma once
#include <stddef.h>
#include <stdint.h>
typedef enum { kTfLiteOk = 0, kTfLiteError = 1 } TfLiteStatus;
typedef enum { kTfLiteNoType = 0, kTfLiteFloat32 = 1, kTfLiteInt32 = 2, kTfLiteUInt8 = 3, kTfLiteInt64 = 4,
               kTfLiteInt16 = 7, kTfLiteInt8 = 9 } TfLiteType;
typedef struct { int size; int data[4]; } TfLiteIntArray;
typedef struct { float scale; int32_t zero_point; } TfLiteQuantizationParams;
typedef union { void *raw; int8_t *int8; float *f; } TfLitePtrUnion;
typedef struct { TfLiteType type; TfLitePtrUnion data; TfLiteIntArray *dims; TfLiteQuantizationParams params;
                 size_t bytes; } TfLiteTensor;
'''
SCHEMA_H = r'''#pragma once
#include <stdint.h>
#define TFLITE_SCHEMA_VERSION (3)
namespace tflite {
struct Model { uint32_t version() const { return 3; } };
inline const Model *GetModel(const void *buf) { return static_cast<const Model *>(buf); }
}
'''
INTERPRETER_H = r'''#pragma once
#include "tensorflow/lite/c/common.h"
#include "tensorflow/lite/schema/schema_generated.h"
namespace tflite {
class MicroOpResolver { public: virtual ~MicroOpResolver() {} virtual int count() const = 0; };
class MicroInterpreter {
 public:
  MicroInterpreter(const Model *model, const MicroOpResolver &op_resolver, uint8_t *tensor_arena,
                   size_t tensor_arena_size);
  TfLiteStatus AllocateTensors();
  TfLiteStatus Invoke();
  TfLiteTensor *input(size_t index);
  TfLiteTensor *output(size_t index);
  size_t inputs_size() const { return 1; }
  size_t outputs_size() const { return 1; }
  size_t arena_used_bytes() const { return used_; }
 private:
  const MicroOpResolver &resolver_;
  uint8_t *arena_;
  size_t size_;
  size_t used_ = 0;
  TfLiteTensor in_{}, out_{};
  TfLiteIntArray dims_{};
};
}
'''
INTERPRETER_CC = r'''#include "tensorflow/lite/micro/micro_interpreter.h"
namespace tflite {
MicroInterpreter::MicroInterpreter(const Model *, const MicroOpResolver &op_resolver, uint8_t *tensor_arena,
                                   size_t tensor_arena_size)
    : resolver_(op_resolver), arena_(tensor_arena), size_(tensor_arena_size) {}
TfLiteStatus MicroInterpreter::AllocateTensors() {
  // Pretend to need 100 bytes per registered op plus the two 4-byte tensors.
  used_ = 100u * (size_t)resolver_.count() + 8u;
  if (used_ > size_) return kTfLiteError;
  dims_.size = 2; dims_.data[0] = 1; dims_.data[1] = 4;
  in_ = {kTfLiteInt8, {arena_}, &dims_, {0.5f, -3}, 4};
  out_ = {kTfLiteInt8, {arena_ + 4}, &dims_, {0.25f, 7}, 4};
  return kTfLiteOk;
}
TfLiteStatus MicroInterpreter::Invoke() {
  for (int i = 0; i < 4; i++) out_.data.int8[i] = (int8_t)(in_.data.int8[i] + 1);
  return kTfLiteOk;
}
TfLiteTensor *MicroInterpreter::input(size_t) { return &in_; }
TfLiteTensor *MicroInterpreter::output(size_t) { return &out_; }
}
'''


def resolver_h(methods):
    body = "\n".join(f"  TfLiteStatus {m}() {{ n_++; return kTfLiteOk; }}" for m in methods)
    return ("#pragma once\n#include \"tensorflow/lite/micro/micro_interpreter.h\"\nnamespace tflite {\n"
            "template <unsigned int tOpCount>\nclass MicroMutableOpResolver : public MicroOpResolver {\n"
            f" public:\n{body}\n  int count() const override {{ return n_; }}\n private:\n  int n_ = 0;\n}};\n}}\n")


def _write_fake_tree(root: Path, methods, layout="tflm-tree") -> Path:
    ext = ".cpp" if layout == "arduino" else ".cc"
    files = {
        "tensorflow/lite/c/common.h": COMMON_H,
        "tensorflow/lite/schema/schema_generated.h": SCHEMA_H,
        "tensorflow/lite/micro/micro_interpreter.h": INTERPRETER_H,
        f"tensorflow/lite/micro/micro_interpreter{ext}": INTERPRETER_CC,
        "tensorflow/lite/micro/micro_mutable_op_resolver.h": resolver_h(methods),
        "tensorflow/lite/micro/debug_log.h": "#pragma once\n#include <stdarg.h>\nextern \"C\" void DebugLog(const char* format, va_list args);\n",
        "third_party/flatbuffers/include/flatbuffers/flatbuffers.h": "#pragma once\n",
        "third_party/gemmlowp/README": "",
        "third_party/ruy/README": "",
    }
    if layout == "arduino":
        files["TensorFlowLite.h"] = "#pragma once\n"
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


@pytest.fixture(scope="module")
def model_path() -> Path:
    zoo = pytest.importorskip("tinydeploy.zoo")
    pytest.importorskip("tflite_micro")
    return zoo.tflite_model("residual_add", "int8")


def _build_and_hello(project: Path, board):
    from tinydeploy.build.pio import build_project
    from tinydeploy.flash.qemu import QemuRunner
    from tinydeploy.link.client import DeviceLink

    build = build_project(project, board, timeout=600)
    with QemuRunner(board, build.elf, timeout=60) as run:
        with DeviceLink.open(run.url, timeout=10) as link:
            info = link.info
            result = link.infer([np.array([[1, 2, 3, -128]], dtype=np.int8)]) if info.runtime_status == 0 else None
    return info, result


@pytest.mark.parametrize("layout", ["tflm-tree"])
def test_bare_metal_sketch_with_stand_in_tflm(model_path, tmp_path, monkeypatch, layout):
    from tinydeploy.model.graph import load_model

    monkeypatch.delenv("TFLM_PATH", raising=False)
    tree = _write_fake_tree(tmp_path / "tflm", [op.resolver_method for op in TFLM_OPS.values()], layout)
    board = get_board("qemu-m4")
    rendered = render_tflm(model_path, board, tmp_path / "project", tflm_path=tree)
    info, result = _build_and_hello(rendered.project_dir, board)
    assert info.runtime == "tflm" and info.runtime_status == 0, info.runtime_error
    assert info.board == "qemu-m4"
    assert info.model_sha256 == load_model(model_path).sha256
    assert info.arena_bytes == rendered.arena_bytes
    assert info.arena_used_bytes == 100 * rendered.op_count + 8  # one registration per distinct op
    assert [(t.dtype, t.shape, t.scale, t.zero_point) for t in info.inputs] == [(np.dtype("int8"), (1, 4), 0.5, -3)]
    assert [(t.shape, t.scale, t.zero_point) for t in info.outputs] == [((1, 4), 0.25, 7)]
    np.testing.assert_array_equal(result.outputs[0], [[2, 3, 4, -127]])
