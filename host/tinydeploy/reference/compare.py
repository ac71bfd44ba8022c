"""How far apart are two references?  Whole-model max LSB difference, and op by op (where they diverge).

    python -m tinydeploy.reference.compare resnet8 ds_cnn          # zoo models, int8, 32 samples

Op by op, both runtimes run the whole model and every intermediate tensor is compared, so a difference shows
first at the op whose kernel differs and then propagates: read the first nonzero row.  Supported for "tflm",
"litert" and "litert-ref".
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinydeploy.convert.tfenv import captured_stderr_fd
from tinydeploy.model.graph import load_model
from tinydeploy.reference.backends import run_reference


def max_lsb(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.abs(a.astype(np.int64) - b.astype(np.int64)).max()) if a.size else 0


def compare_outputs(model: Path, inputs: np.ndarray, backends: tuple[str, ...] = ("tflm", "litert", "litert-ref")
                    ) -> dict[tuple[str, str], int]:
    """Max |difference| (in LSB of the output dtype) between each pair of backends, first output."""
    outs = {b: run_reference(b, model, inputs)[0] for b in backends}
    return {(a, b): max_lsb(outs[a], outs[b]) for i, a in enumerate(backends) for b in backends[i + 1:]}


@dataclass
class OpDiff:
    index: int
    opcode: str
    max_lsb: int


class _AllTensors:
    """One runtime that keeps every intermediate tensor, with a way to run a single op in isolation."""

    def __init__(self, backend: str, raw: bytes) -> None:
        self.backend = backend
        with captured_stderr_fd():
            if backend == "tflm":
                from tflite_micro.python.tflite_micro import runtime

                self.tflm = runtime.Interpreter.from_bytes(
                    raw, arena_size=len(raw) * 10 + (8 << 20),
                    intrepreter_config=runtime.InterpreterConfig.kPreserveAllTensors)
            else:
                from ai_edge_litert.interpreter import Interpreter, OpResolverType

                resolver = OpResolverType.BUILTIN_REF if backend == "litert-ref" else OpResolverType.BUILTIN
                self.lite = Interpreter(model_content=raw, num_threads=1, experimental_op_resolver_type=resolver,
                                        experimental_preserve_all_tensors=True)
                self.lite.allocate_tensors()

    def run(self, x: np.ndarray) -> None:
        if self.backend == "tflm":
            self.tflm.reset()
            self.tflm.set_input(x, 0)
            self.tflm.invoke()
        else:
            self.lite.set_tensor(self.lite.get_input_details()[0]["index"], x)
            self.lite.invoke()

    def tensor(self, index: int) -> np.ndarray:
        if self.backend == "tflm":
            got = self.tflm.GetTensor(index, 0)
            return np.asarray(got["tensor_data"] if isinstance(got, dict) else got)
        return np.asarray(self.lite.get_tensor(index))


def compare_ops(model_path: Path, inputs: np.ndarray, a: str = "tflm", b: str = "litert-ref") -> list[OpDiff]:
    """Per-op max LSB difference of each op's output between runtimes a and b over the samples (single-input
    models).  Differences propagate downstream: the first nonzero row is where the runtimes part ways."""
    model = load_model(model_path)
    ra, rb = _AllTensors(a, model.raw), _AllTensors(b, model.raw)
    worst = {op.index: 0 for op in model.operators}
    for i in range(len(inputs)):
        ra.run(inputs[i : i + 1])
        rb.run(inputs[i : i + 1])
        for op in model.operators:
            out = op.outputs[0]
            ta, tb = ra.tensor(out), rb.tensor(out)
            worst[op.index] = max(worst[op.index], max_lsb(ta.reshape(-1), tb.reshape(-1)))
    return [OpDiff(op.index, op.opcode, worst[op.index]) for op in model.operators]


def main(argv: list[str]) -> int:
    from tinydeploy import zoo
    from tinydeploy.reference.quant import quantize_input

    for name in argv or ["resnet8", "ds_cnn"]:
        path = zoo.tflite_model(name, "int8")
        x = quantize_input(zoo.sample_inputs(name, 32, seed=0), load_model(path).input_tensors[0])
        pairs = compare_outputs(path, x)
        print(f"{name}: " + ", ".join(f"{a} vs {b}: {d} LSB" for (a, b), d in pairs.items()))
        diverging = [d for d in compare_ops(path, x) if d.max_lsb]
        print("  tflm vs litert-ref op by op: "
              + (", ".join(f"#{d.index} {d.opcode} {d.max_lsb}" for d in diverging) or "identical"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
