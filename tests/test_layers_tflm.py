"""Per-layer profiling of the tflm runtime on qemu-m4, against a stand-in TFLM (the real sources are not
reachable here; test_tflm_fake_qemu.py explains the stand-in).

The sketch rendered with layers=True (-DTD_LAYERS) hands TFLM a MicroProfilerInterface; the stand-in's
Invoke() runs one "node" per operator of the real model, each a busy loop of (k + 1) x 200 iterations inside
BeginEvent/EndEvent (node 1 with a nested event, as a subgraph op would have), and its schema exposes the real
model's operators and tensors.  Checked for real: PlatformIO build, QEMU, link, the harness's LAYERS/PROFILE
handling, the layer table read from the flatbuffer API, ticks per node in order, and that layer outputs are
refused for tflm with a clear message.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tinydeploy.boards import get_board
from tinydeploy.errors import UserError
from tinydeploy.model.graph import Model, load_model
from tinydeploy.render.tflm import render_tflm
from tinydeploy.tflm.ops import TFLM_OPS
from tinydeploy.verify.layers import layers_table, measure_layers

from aotutil import single_op_tflite
from test_layers import small_cnn
from test_tflm_fake_qemu import COMMON_H, INTERPRETER_CC, resolver_h

pytestmark = [pytest.mark.qemu, pytest.mark.slow]

SCHEMA_H = r'''#pragma once
#include <stdint.h>
#define TFLITE_SCHEMA_VERSION (3)
namespace tflite {
template <typename T> struct Vector {
  const T *data_; uint32_t n_;
  uint32_t size() const { return n_; }
  T Get(uint32_t i) const { return data_[i]; }
};
template <typename T> struct PtrVector {
  const T *const *data_; uint32_t n_;
  uint32_t size() const { return n_; }
  const T *Get(uint32_t i) const { return data_[i]; }
};
enum TensorType : int8_t { TensorType_FLOAT32 = 0, TensorType_INT32 = 2, TensorType_INT8 = 9 };
struct Tensor {
  TensorType type_; Vector<int32_t> shape_;
  TensorType type() const { return type_; }
  const Vector<int32_t> *shape() const { return &shape_; }
};
struct Operator { Vector<int32_t> outputs_; const Vector<int32_t> *outputs() const { return &outputs_; } };
struct SubGraph {
  PtrVector<Operator> operators_; PtrVector<Tensor> tensors_;
  const PtrVector<Operator> *operators() const { return &operators_; }
  const PtrVector<Tensor> *tensors() const { return &tensors_; }
};
struct Model { uint32_t version() const { return 3; } const PtrVector<SubGraph> *subgraphs() const; };
inline const Model *GetModel(const void *buf) { return static_cast<const Model *>(buf); }
}
'''
PROFILER_H = r'''#pragma once
#include <stdint.h>
namespace tflite {
class MicroProfilerInterface {
 public:
  virtual ~MicroProfilerInterface() {}
  virtual uint32_t BeginEvent(const char *tag) = 0;
  virtual void EndEvent(uint32_t event_handle) = 0;
};
}
'''
INTERPRETER_H = r'''#pragma once
#include "tensorflow/lite/c/common.h"
#include "tensorflow/lite/schema/schema_generated.h"
#include "tensorflow/lite/micro/micro_profiler_interface.h"
namespace tflite {
class MicroOpResolver { public: virtual ~MicroOpResolver() {} virtual int count() const = 0; };
class MicroInterpreter {
 public:
  MicroInterpreter(const Model *model, const MicroOpResolver &op_resolver, uint8_t *tensor_arena,
                   size_t tensor_arena_size, void *resource_variables = nullptr,
                   MicroProfilerInterface *profiler = nullptr);
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
  MicroProfilerInterface *profiler_;
  size_t used_ = 0;
  TfLiteTensor in_{}, out_{};
  TfLiteIntArray dims_{};
};
}
'''


def interpreter_cc(model: Model) -> str:
    """The stand-in interpreter: the fake test's, with the profiler and one busy node per model operator,
    plus the flatbuffer-like tables of the real model's operators and tensors."""
    graph_ops = model.operators
    source = INTERPRETER_CC
    for old, new in (
            ("size_t tensor_arena_size)\n    : resolver_(op_resolver), arena_(tensor_arena), size_(tensor_arena_size) {}",
             "size_t tensor_arena_size, void *, MicroProfilerInterface *profiler)\n"
             "    : resolver_(op_resolver), arena_(tensor_arena), size_(tensor_arena_size), profiler_(profiler) {}"),
            ("TfLiteStatus MicroInterpreter::Invoke() {\n",
             "TfLiteStatus MicroInterpreter::Invoke() {\n"
             f"  for (int node = 0; node < {len(graph_ops)}; node++) {{\n"
             "    uint32_t h = profiler_ ? profiler_->BeginEvent(\"NODE\") : 0;\n"
             "    if (node == 1 && profiler_) profiler_->EndEvent(profiler_->BeginEvent(\"NESTED\"));\n"
             "    for (volatile int spin = 0; spin < (node + 1) * 200; spin++) {}\n"
             "    if (profiler_) profiler_->EndEvent(h);\n"
             "  }\n")):
        assert source.count(old) == 1, old
        source = source.replace(old, new)
    lines = [source]
    lines.append("namespace tflite {")
    for t in model.tensors:
        dims = ", ".join(str(d) for d in t.shape) or "1"
        code = {"float32": 0, "int32": 2, "int8": 9}[t.dtype]
        lines.append(f"static const int32_t shape{t.index}[] = {{{dims}}};")
        lines.append(f"static const Tensor tensor{t.index} = {{(TensorType){code}, {{shape{t.index}, "
                     f"{len(t.shape)}u}}}};")
    for op in graph_ops:
        lines.append(f"static const int32_t outs{op.index}[] = {{{op.outputs[0]}}};")
        lines.append(f"static const Operator op{op.index} = {{{{outs{op.index}, 1u}}}};")
    lines.append("static const Operator *const ops[] = {" + ", ".join(f"&op{o.index}" for o in graph_ops) + "};")
    lines.append("static const Tensor *const tensors[] = {"
                 + ", ".join(f"&tensor{t.index}" for t in model.tensors) + "};")
    lines.append(f"static const SubGraph graph = {{{{ops, {len(graph_ops)}u}}, {{tensors, {len(model.tensors)}u}}}};")
    lines.append("static const SubGraph *const graphs[] = {&graph};")
    lines.append("static const PtrVector<SubGraph> subgraph_list = {graphs, 1u};")
    lines.append("const PtrVector<SubGraph> *Model::subgraphs() const { return &subgraph_list; }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_tree(root: Path, model: Model) -> Path:
    files = {
        "tensorflow/lite/c/common.h": COMMON_H,
        "tensorflow/lite/schema/schema_generated.h": SCHEMA_H,
        "tensorflow/lite/micro/micro_profiler_interface.h": PROFILER_H,
        "tensorflow/lite/micro/micro_interpreter.h": INTERPRETER_H,
        "tensorflow/lite/micro/micro_interpreter.cc": interpreter_cc(model),
        "tensorflow/lite/micro/micro_mutable_op_resolver.h": resolver_h([o.resolver_method for o in TFLM_OPS.values()]),
        "tensorflow/lite/micro/debug_log.h": "#pragma once\n#include <stdarg.h>\n"
                                             "extern \"C\" void DebugLog(const char* format, va_list args);\n",
        "third_party/flatbuffers/include/flatbuffers/flatbuffers.h": "#pragma once\n",
        "third_party/gemmlowp/README": "",
        "third_party/ruy/README": "",
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_tflm_sketch_reports_per_node_latency(tmp_path, monkeypatch):
    from tinydeploy.build.pio import build_project
    from tinydeploy.flash.qemu import QemuRunner
    from tinydeploy.link.client import DeviceLink

    monkeypatch.delenv("TFLM_PATH", raising=False)
    model_path = single_op_tflite(small_cnn, [(1, 12, 12, 2)], key="test_layers-small-cnn-v1")
    model = load_model(model_path)
    board = get_board("qemu-m4")
    tree = write_tree(tmp_path / "tflm", model)
    rendered = render_tflm(model_path, board, tmp_path / "project", tflm_path=tree, layers=True)
    assert "-DTD_LAYERS" in (rendered.project_dir / "platformio.ini").read_text()
    build = build_project(rendered.project_dir, board, timeout=600)
    sample = [np.array([[1, 2, 3, -128]], dtype=np.int8)]
    with QemuRunner(board, build.elf, timeout=60) as run, DeviceLink.open(run.url, timeout=10) as link:
        section = measure_layers(link, model, [sample, sample])
        with pytest.raises(UserError, match="cannot stop after a layer"):
            measure_layers(link, model, [sample], outputs=True)
    rows = section["layers"]
    assert section["runtime"] == "tflm" and section["unit"] == "instructions"
    assert [r["op"] for r in rows] == list(range(len(model.operators)))
    assert [r["tensor"] for r in rows] == [model.tensors[op.outputs[0]].name for op in model.operators]
    latencies = [r["latency"] for r in rows]
    assert latencies == sorted(latencies) and latencies[0] > 0  # node k spins (k + 1) x 200 times
    assert "SOFTMAX" in layers_table(section)


def test_deploy_run_tflm_layers_with_the_arduino_library(tmp_path, monkeypatch, capsys):
    """`deploy run MODEL --runtime tflm --tflm-path TREE --board qemu-m4 --layers` through the CLI, with the
    stand-in of the TFLM Arduino library (tests/tflm_standin.py): its interpreter calls the sketch's
    MicroProfilerInterface around every node and its schema serves the layer table.  (--layers=outputs is
    refused for tflm: test_tflm_sketch_reports_per_node_latency.)"""
    from tinydeploy.cli import main
    from tflm_standin import reshape_model, write_standin

    pytest.importorskip("tflite_micro")
    monkeypatch.delenv("TFLM_PATH", raising=False)
    monkeypatch.setenv("TINYDEPLOY_LIB_CACHE", str(tmp_path / "lib-cache"))
    model = reshape_model(tmp_path / "reshape_int8.tflite")
    lib = write_standin(tmp_path / "Arduino_TensorFlowLite", "pinned")
    assert main(["run", str(model), "--runtime", "tflm", "--tflm-path", str(lib), "--board", "qemu-m4", "-n", "2",
                 "--no-litert", "--build-timeout", "300", "--layers"]) == 0
    out = capsys.readouterr().out
    assert "per-layer latency (tflm, instructions (emulated))" in out and "instr/MAC" in out
    assert "RESHAPE" in out and "100.0%" in out and "outside the layers" in out
