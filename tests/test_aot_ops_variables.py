"""aot resource variables (VAR_HANDLE, READ_VARIABLE, ASSIGN_VARIABLE) and CALL_ONCE over sequences of invokes,
bit-exact with the TFLite Micro interpreter.

User-style models: tf.Module classes holding tf.Variables, converted from their tf.function: a streaming ring
buffer + running sum (float32, and full-int8 PTQ with int8 I/O), and an int32 level starting at 3 beside a
decaying float32 state.

What TFLM does across invokes: CALL_ONCE runs the init subgraph on the first invoke only; variables keep
their values between invokes; MicroInterpreter::Reset() zeroes them without rerunning CALL_ONCE (measured
below: the old reference, which reset after each sample, gave zero-state from the second sample on, which
neither a TFLM device nor the TF model does).  The tflm host reference now runs such a model's samples as
one sequence, like a device from boot, and aot keeps the state in static buffers the same way.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from aotutil import build_native, cache_root
from tinydeploy.reference import run_reference
from tinydeploy.errors import UnsupportedOpError
from tinydeploy.model.graph import load_model

STEPS = 7


def _convert_module(make: Callable[[], object], key: str, int8_shape: tuple[int, ...] | None = None) -> Path:
    """tf.Module -> .tflite through its __call__ tf.function (cached under the test cache by key); with
    int8_shape, full-integer PTQ with int8 I/O (the converter keeps the variables float32 between
    DEQUANTIZE / QUANTIZE)."""
    path = cache_root() / "tflite" / f"var-{hashlib.sha256(key.encode()).hexdigest()[:16]}.tflite"
    if path.exists():
        return path
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    module = make()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([module.__call__.get_concrete_function()], module)
    if int8_shape is not None:
        rng = np.random.default_rng(0)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([rng.uniform(-2, 2, int8_shape).astype(np.float32)]
                                                    for _ in range(32))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    data = converter.convert()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return path


def _streaming_module():
    import tensorflow as tf

    class Streaming(tf.Module):
        """Keeps the last 3 frames (ring buffer) and a running sum; outputs their mean and the sum."""

        def __init__(self) -> None:
            super().__init__()
            self.ring = tf.Variable(tf.fill([1, 3, 5], 0.25), name="ring")
            self.total = tf.Variable(tf.zeros([1, 5]), name="total")

        @tf.function(input_signature=[tf.TensorSpec([1, 5], tf.float32)])
        def __call__(self, x):
            ring = tf.concat([self.ring[:, 1:, :], x[:, None, :]], axis=1)
            self.ring.assign(ring)
            self.total.assign_add(x * 0.5)
            return tf.reduce_mean(ring, axis=1), self.total.read_value()

    return Streaming()


def _counter_module():
    import tensorflow as tf

    class Counter(tf.Module):
        """An int32 level starting at 3 keeps the running maximum of int(10 max(x)); a float state decays."""

        def __init__(self) -> None:
            super().__init__()
            self.step = tf.Variable(3, dtype=tf.int32, name="step")
            self.state = tf.Variable(tf.ones([1, 6]), name="state")

        @tf.function(input_signature=[tf.TensorSpec([1, 6], tf.float32)])
        def __call__(self, x):
            self.step.assign(tf.maximum(self.step, tf.cast(tf.reduce_max(x) * 10.0, tf.int32)))
            self.state.assign(self.state * 0.75 + x)
            return x * tf.cast(self.step, tf.float32) + self.state, self.step.read_value()

    return Counter()


def _direct_tflm(path: Path, xs: np.ndarray) -> list[list[np.ndarray]]:
    """TFLM's host interpreter over the sequence, never reset (a device from boot)."""
    from tflite_micro.python.tflite_micro import runtime

    interp = runtime.Interpreter.from_file(str(path))
    n_out = len(load_model(path).outputs)
    outs = []
    for x in xs:
        interp.set_input(np.ascontiguousarray(x), 0)
        interp.invoke()
        outs.append([np.array(interp.get_output(k)) for k in range(n_out)])
    return outs


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.asarray(a), np.asarray(b).reshape(np.asarray(a).shape)
    return a.dtype == b.dtype and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("name", ["streaming", "streaming_int8", "counter"])
def test_state_persists_across_invokes_exactly_like_tflm(name: str) -> None:
    make, shape = {"streaming": (_streaming_module, (1, 5)), "streaming_int8": (_streaming_module, (1, 5)),
                   "counter": (_counter_module, (1, 6))}[name]
    path = _convert_module(make, f"{name}-v3", int8_shape=shape if name.endswith("int8") else None)
    ops = set(load_model(path).op_names)
    assert {"CALL_ONCE", "VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE"} <= ops, ops
    assert load_model(path).num_subgraphs == 2

    rng = np.random.default_rng(23)
    xs = rng.uniform(-2, 2, size=(STEPS, *shape)).astype(np.float32)
    if name.endswith("int8"):
        xs = rng.integers(-128, 128, size=(STEPS, *shape)).astype(np.int8)
    native = build_native(path)
    ours = [native.run([x]) for x in xs]
    direct = _direct_tflm(path, xs)
    for step, (a, b) in enumerate(zip(ours, direct)):
        for k, (oa, ob) in enumerate(zip(a, b)):
            assert _same(oa, ob), f"{name} step {step} output {k}: aot {oa.reshape(-1)[:4]} vs TFLM {ob.reshape(-1)[:4]}"
    # the state really moves: later outputs differ from the first (same input would otherwise repeat)
    assert not _same(ours[0][-1], ours[-1][-1])

    # the tflm reference as deploy verify runs it (one sample per row, in a worker) gives the same sequence
    batched = xs if shape[0] != 1 else xs.reshape(STEPS, *shape[1:])
    ref = run_reference("tflm", path, [batched])
    for k in range(len(ours[0])):
        got = np.stack([o[k] for o in ours]).reshape(np.asarray(ref[k]).shape)
        assert _same(got, ref[k]), f"{name} output {k}: aot differs from run_reference('tflm')"

    if name == "counter":  # the int32 level: initial value 3 (CALL_ONCE), then the running maximum
        k = next(i for i, o in enumerate(ours[0]) if o.dtype == np.int32)
        levels = [int(o[k].reshape(-1)[0]) for o in ours]
        assert levels == list(np.maximum.accumulate([max(3, int(np.float32(x.max()) * np.float32(10))) for x in xs]))


def test_tflm_reset_zeroes_variables_without_rerunning_call_once() -> None:
    """Why the reference runs stateful models without Reset(): after it, TFLM reads zeros, not the initial
    values (the level falls to max(0, ...) = 0 for zero inputs, not back to 3)."""
    from tflite_micro.python.tflite_micro import runtime

    path = _convert_module(_counter_module, "counter-v3")
    interp = runtime.Interpreter.from_file(str(path))
    steps = []
    for _ in range(3):
        interp.set_input(np.zeros((1, 6), np.float32), 0)
        interp.invoke()
        outs = [np.array(interp.get_output(k)) for k in range(2)]
        steps.append(int(next(o for o in outs if o.dtype == np.int32).reshape(-1)[0]))
        interp.reset()
    assert steps == [3, 0, 0], steps


def test_variable_ops_show_as_supported_in_inspect() -> None:
    from tinydeploy.aot.codegen import lowering_problems

    problem, per_op = lowering_problems(load_model(_convert_module(_streaming_module, "streaming-v2")))
    assert problem is None and per_op == {}, (problem, per_op)


def _cond_assign_module():
    import tensorflow as tf

    class CondAssign(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.peak = tf.Variable(tf.zeros([1, 4]), name="peak")

        @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32)])
        def __call__(self, x):
            def grow():
                self.peak.assign(x)
                return x * 2.0

            return tf.cond(tf.reduce_sum(x) > tf.reduce_sum(self.peak), grow, lambda: x - 1.0)

    return CondAssign()


def test_variables_inside_control_flow_are_refused_in_one_line() -> None:
    path = _convert_module(_cond_assign_module, "cond-assign-v1")
    if "IF" not in load_model(path).op_names:
        pytest.skip("the converter took the assignment out of the branch")
    with pytest.raises(UnsupportedOpError, match=r"IF / WHILE subgraph \d+ runs (ASSIGN_VARIABLE|VAR_HANDLE|READ_VAR)"):
        build_native(path)


def _mutated(path: Path, edit: Callable[[object], None], tag: str) -> Path:
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(path.read_bytes(), 0)
    edit(model)
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    out = cache_root() / "tflite" / f"{path.stem}-{tag}.tflite"
    out.write_bytes(bytes(builder.Output()))
    return out


def _tensor_named(model: object, prefix: str) -> object:
    sg = model.subgraphs[0]  # type: ignore[attr-defined]
    return next(t for t in sg.tensors if t.name.decode().startswith(prefix))


@pytest.mark.parametrize("case", ["read_size", "init_index"])
def test_inconsistent_variable_refused_before_codegen(case: str) -> None:
    """A READ_VARIABLE output of another size than the variable (the copy would overrun it) or a CALL_ONCE
    naming a missing subgraph is one UserError, no C generated."""
    from tinydeploy.errors import UserError

    path = _convert_module(_streaming_module, "streaming-v3")

    def edit(model: object) -> None:
        if case == "read_size":
            _tensor_named(model, "ReadVariableOp").shape = np.array([1, 4, 5], np.int32)  # ring is [1, 3, 5]
        else:
            call_once = next(o for o in model.subgraphs[0].operators  # type: ignore[attr-defined]
                             if o.builtinOptions is not None and hasattr(o.builtinOptions, "initSubgraphIndex"))
            call_once.builtinOptions.initSubgraphIndex = 5

    with pytest.raises(UserError, match="outside its tensors|no CALL_ONCE, IF or WHILE runs") as err:
        build_native(_mutated(path, edit, case))
    assert len(str(err.value).splitlines()) <= 2  # the error and its hint


def test_deploy_run_native_carries_state_across_invokes(tmp_path: Path) -> None:
    """The whole pipeline on the native board: the firmware harness INVOKEs the aot model once per sample over
    its serial link; the state persists between INVOKEs and every output is TFLM's (the reference run as one
    sequence), and the running sum really moves from sample to sample."""
    import json

    from tinydeploy import cli

    path = _convert_module(_streaming_module, "streaming_int8-v3", int8_shape=(1, 5))
    report, saved = tmp_path / "r.json", tmp_path / "o.npz"
    assert cli.main(["run", str(path), "--board", "native", "-n", "6", "--no-litert", "--report", str(report),
                     "--save-outputs", str(saved)]) == 0
    fidelity = json.loads(report.read_text())["fidelity"]["tflm"]
    assert fidelity["compared"] == 6 and fidelity["bit_exact_rate"] == 1.0, fidelity
    saved_arrays = np.load(saved)
    xs = saved_arrays["input_0"].reshape(6, 1, 5)
    device = [saved_arrays[f"device_{k}"].reshape(6, -1) for k in range(2)]
    # each sample run alone on a fresh interpreter (no history) is not what the device gave from sample 2 on
    fresh = [_direct_tflm(path, xs[i:i + 1])[0] for i in range(6)]
    assert all(_same(device[k][0], fresh[0][k].reshape(-1)) for k in range(2))
    assert any(not _same(device[k][i], fresh[i][k].reshape(-1)) for i in range(1, 6) for k in range(2))
