"""A seeded mutation fuzzer for the model front end (issue 16): small self-built models are mutated — shape,
index, scale, type and constant-data edits on their tables, random byte flips, truncation — and each
mutant goes through `deploy inspect`, `deploy render --runtime aot` and `deploy render --runtime tflm`
in-process.  Every run must end with exit status 0, 1 or 2, a failure being one line on stderr; never a
traceback (an exception out of cli.main) and never a hang.  The first FUZZ_RUNS byte-flipped mutants that
render also go through `deploy run --board native`: exact (0) or clearly failed (1/2, one error line).

CI runs FUZZ_CASES (150 mutants x 3 commands, seeded, ~30 s); more with TINYDEPLOY_FUZZ_CASES=N (and another seed
with TINYDEPLOY_FUZZ_SEED=S).  A failing case prints its seed and mutation, and the mutant is kept.
"""

from __future__ import annotations

import copy
import os
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from aotutil_builder import OpSpec, TensorSpec, build_tflite
from tinydeploy import cli

FUZZ_CASES = int(os.environ.get("TINYDEPLOY_FUZZ_CASES", "150"))
FUZZ_SEED = int(os.environ.get("TINYDEPLOY_FUZZ_SEED", "16"))
FUZZ_RUNS = int(os.environ.get("TINYDEPLOY_FUZZ_RUNS", "2"))  # mutants that render, also run on native
CASE_TIMEOUT_S = 120  # one mutant through one command; a hang fails the case instead of the suite


@dataclass
class Spec:
    tensors: list[TensorSpec]
    ops: list[OpSpec]
    inputs: list[int]
    outputs: list[int]

    def build(self) -> bytes:
        return build_tflite(self.tensors, self.ops, self.inputs, self.outputs)


def conv_dw_dense_int8() -> Spec:
    """Conv2D -> DepthwiseConv2D -> Reshape -> Dense, int8 (a Keras-style small CNN)."""
    rng = np.random.default_rng(1)
    t = [
        TensorSpec((1, 8, 8, 1), "int8", scale=0.02, zero_point=-3, name="input"),                        # 0
        TensorSpec((4, 3, 3, 1), "int8", data=rng.integers(-127, 128, (4, 3, 3, 1)).astype(np.int8),
                   scale=[0.01, 0.02, 0.015, 0.03], axis=0, name="conv/w"),                               # 1
        TensorSpec((4,), "int32", data=rng.integers(-500, 500, 4).astype(np.int32),
                   scale=[2e-4, 4e-4, 3e-4, 6e-4], name="conv/b"),                                      # 2
        TensorSpec((1, 4, 4, 4), "int8", scale=0.05, zero_point=-128, name="conv/Relu"),                  # 3
        TensorSpec((1, 3, 3, 4), "int8", data=rng.integers(-127, 128, (1, 3, 3, 4)).astype(np.int8),
                   scale=[0.01, 0.02, 0.03, 0.04], axis=3, name="dw/w"),                                  # 4
        TensorSpec((4,), "int32", data=rng.integers(-500, 500, 4).astype(np.int32),
                   scale=[5e-4, 1e-3, 1.5e-3, 2e-3], name="dw/b"),                                      # 5
        TensorSpec((1, 4, 4, 4), "int8", scale=0.06, zero_point=2, name="dw/out"),                        # 6
        TensorSpec((1, 64), "int8", scale=0.06, zero_point=2, name="flatten"),                            # 7
        TensorSpec((10, 64), "int8", data=rng.integers(-127, 128, (10, 64)).astype(np.int8), scale=0.01,
                   name="dense/w"),                                                                       # 8
        TensorSpec((1, 10), "int8", scale=0.1, zero_point=0, name="dense/out"),                           # 9
    ]
    ops = [
        OpSpec("CONV_2D", [0, 1, 2], [3], {"padding": "SAME", "stride_w": 2, "stride_h": 2,
                                            "fused_activation_function": "RELU"}),
        OpSpec("DEPTHWISE_CONV_2D", [3, 4, 5], [6], {"padding": "SAME", "stride_w": 1, "stride_h": 1,
                                                      "depth_multiplier": 1}),
        OpSpec("RESHAPE", [6], [7], {"new_shape": [1, 64]}),
        OpSpec("FULLY_CONNECTED", [7, 8], [9]),
    ]
    return Spec(t, ops, [0], [9])


def dense_float32() -> Spec:
    """Dense -> Dense(relu6), float32."""
    rng = np.random.default_rng(2)
    t = [
        TensorSpec((1, 12), "float32", name="input"),
        TensorSpec((8, 12), "float32", data=rng.normal(size=(8, 12)).astype(np.float32), name="d1/w"),
        TensorSpec((8,), "float32", data=rng.normal(size=8).astype(np.float32), name="d1/b"),
        TensorSpec((1, 8), "float32", name="d1/out"),
        TensorSpec((3, 8), "float32", data=rng.normal(size=(3, 8)).astype(np.float32), name="d2/w"),
        TensorSpec((1, 3), "float32", name="d2/out"),
    ]
    ops = [OpSpec("FULLY_CONNECTED", [0, 1, 2], [3], {"fused_activation_function": "RELU"}),
           OpSpec("FULLY_CONNECTED", [3, 4], [5], {"fused_activation_function": "RELU6"})]
    return Spec(t, ops, [0], [5])


MODELS: dict[str, Callable[[], Spec]] = {"cnn_int8": conv_dw_dense_int8, "dense_f32": dense_float32}

WEIRD_DIMS = [0, -1, -2, 2, 3, 7, 1 << 20, 1 << 31 - 1, -(1 << 31)]
WEIRD_SCALES = [0.0, -0.1, float("nan"), float("inf"), 1e-45, 1e38]
WEIRD_TYPES = ["int16", "int32", "float32", "uint8", "bool", "int64"]


def _mutate_spec(spec: Spec, rng: np.random.Generator) -> str:
    """One structured edit of `spec` (in place); returns what it did."""
    kind = rng.choice(["shape", "index", "io", "scale", "type", "data", "zero_point"])
    ti = int(rng.integers(len(spec.tensors)))
    t = spec.tensors[ti]
    if kind == "shape":
        shape = list(t.shape)
        if shape and rng.random() < 0.8:
            shape[int(rng.integers(len(shape)))] = int(rng.choice(WEIRD_DIMS))
        else:
            shape = shape[:-1] if shape and rng.random() < 0.5 else shape + [int(rng.choice([1, 2]))]
        t.shape = shape
        return f"tensor {ti} shape -> {shape}"
    if kind == "index":
        op = spec.ops[int(rng.integers(len(spec.ops)))]
        operands = op.inputs if rng.random() < 0.6 or not op.outputs else op.outputs
        if not operands:
            operands.append(0)
        k = int(rng.integers(len(operands)))
        operands[k] = int(rng.choice([-1, -2, -7, len(spec.tensors), 1000, *range(len(spec.tensors))]))
        return f"op {op.opcode} operand {k} -> {operands[k]}"
    if kind == "io":
        which = spec.inputs if rng.random() < 0.5 else spec.outputs
        value = int(rng.choice([-1, -3, len(spec.tensors), 99, *range(len(spec.tensors))]))
        which[0] = value
        return f"subgraph {'inputs' if which is spec.inputs else 'outputs'}[0] -> {value}"
    if kind == "scale":
        t.scale = float(rng.choice(WEIRD_SCALES))
        return f"tensor {ti} scale -> {t.scale}"
    if kind == "type":
        t.dtype = str(rng.choice(WEIRD_TYPES))
        if t.data is not None and rng.random() < 0.5:
            t.data = t.data.astype(t.dtype if t.dtype != "bool" else np.bool_)
        return f"tensor {ti} type -> {t.dtype}"
    if kind == "data":
        t.data = np.zeros(int(rng.integers(0, 40)), np.int8)
        return f"tensor {ti} constant data -> {t.data.size} bytes"
    t.zero_point = int(rng.choice([-129, 128, 1000, -(1 << 20)]))
    return f"tensor {ti} zero point -> {t.zero_point}"


def _mutant(rng: np.random.Generator) -> tuple[str, bytes]:
    name = str(rng.choice(sorted(MODELS)))
    spec = copy.deepcopy(MODELS[name]())
    edits = [_mutate_spec(spec, rng) for _ in range(int(rng.integers(0, 3)))]
    try:
        data = bytearray(spec.build())
    except Exception as err:  # the builder itself refused the edit (e.g. a dtype it cannot store): plain flips
        edits.append(f"(builder refused: {type(err).__name__})")
        data = bytearray(copy.deepcopy(MODELS[name]()).build())
    roll = rng.random()
    if roll < 0.35 or not edits:
        for _ in range(int(rng.integers(1, 6))):
            pos = int(rng.integers(len(data)))
            data[pos] ^= 1 << int(rng.integers(8))
        edits.append("byte flips")
    elif roll < 0.45:
        cut = int(rng.integers(len(data)))
        data = data[:cut]
        edits.append(f"truncated to {cut} bytes")
    return f"{name}: {'; '.join(edits)}", bytes(data)


class _Hang(Exception):
    pass


def _on_alarm(signum, frame):
    raise _Hang()


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int | None, str]:
    """cli.main(argv) in-process: (status, stderr); status None with the traceback's text when it raised."""
    old = signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(CASE_TIMEOUT_S)
    try:
        status = cli.main(argv)
    except _Hang:
        return None, f"hang: no exit within {CASE_TIMEOUT_S} s"
    except BaseException as err:  # noqa: BLE001 - any escape is the finding
        import traceback

        return None, "".join(traceback.format_exception(err))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    return status, capsys.readouterr().err


def _one_error(err: str) -> bool:
    """The house format: one `error: ...` line, then at most a few indented ones (a `hint:`, or the list
    of per-op problems `render --runtime tflm` gathers)."""
    lines = err.strip().splitlines()
    return 1 <= len(lines) <= 12 and lines[0].startswith("error: ") and all(
        line.startswith("  ") for line in lines[1:])


def _commands(model: Path, out: Path) -> list[list[str]]:
    return [["inspect", str(model)],
            ["render", str(model), "--board", "native", "--runtime", "aot", "-o", str(out / "aot")],
            ["render", str(model), "--board", "nano33", "--runtime", "tflm", "--arena-bytes", "65536",
             "-o", str(out / "tflm")]]


def test_mutated_models_never_crash_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(FUZZ_SEED)
    failures: list[str] = []
    counts = {0: 0, 1: 0, 2: 0}
    runs: list[tuple[int, str, Path]] = []
    for case in range(FUZZ_CASES):
        what, data = _mutant(rng)
        model = tmp_path / f"case{case}.tflite"
        model.write_bytes(data)
        rendered = False
        for argv in _commands(model, tmp_path / f"out{case}"):
            status, err = _run(argv, capsys)
            if status not in (0, 1, 2) or "Traceback" in err:
                failures.append(f"case {case} (seed {FUZZ_SEED}) {what}: deploy {argv[0]} {' '.join(argv[2:4])} "
                                f"-> {status}\n{err[-1500:]}")
            elif status != 0 and not _one_error(err):
                failures.append(f"case {case} {what}: deploy {' '.join(argv[:1])} said more than one line:\n{err}")
            else:
                counts[status] += 1
                rendered += status == 0 and argv[0] == "render" and "aot" in argv
        if rendered and len(runs) < FUZZ_RUNS and "byte flips" in what:
            runs.append((case, what, model))
        elif not failures:
            model.unlink()
    for case, what, model in runs:  # a corrupt model that renders either runs exact or fails clearly
        status, err = _run(["run", str(model), "--board", "native", "-n", "3", "--no-litert"], capsys)
        if status not in (0, 1, 2) or "Traceback" in err or (status != 0 and not _one_error(err)):
            failures.append(f"case {case} (seed {FUZZ_SEED}) {what}: deploy run --board native -> {status}\n{err}")
        counts[status or 0] += 1
    assert len(runs) == FUZZ_RUNS, "no mutant rendered: the run check did not happen"
    assert not failures, f"{len(failures)} failing runs; first ones:\n\n" + "\n\n".join(failures[:5])
    assert counts[2] > FUZZ_CASES // 4, counts  # the mutations do reach the checks
