"""SVDF on the aot runtime, bit-exact with TFLite Micro's host interpreter.

A Keras model does not convert to SVDF, so the models are written with the flatbuffer builder in the shape
of a keyword-spotting SVDF layer (40 features, memory 8, 64 units, rank 1 or 2): float32, and TFLM's integer
SVDF (int8 input/output, int16 state and time weights, int32 bias; also the int8-state variant with a
nonzero state zero point).

State: the reference (tinydeploy.reference, as `deploy verify` runs it) resets TFLM after each sample, which
resets the variable state tensor; the generated code resets it at the start of each invoke.  A sequence of
samples run back to back on one native build must match sample by sample; the same sequence through TFLM
*without* reset differs, so the check sees the state.  A model with several SVDF ops sharing one state tensor
(one time step each, inside one invoke) exercises the shift and every time weight column against TFLM.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from aotutil import assert_bitexact_with_tflm, random_inputs
from aotutil_builder import OpSpec, TensorSpec, write_tflite

SAMPLES = 8


@dataclass(frozen=True)
class Kind:
    name: str
    state: str  # "float32", "int16" or "int8"
    state_zp: int = 0

    @property
    def integer(self) -> bool:
        return self.state != "float32"


FLOAT = Kind("float32", "float32")
INT16_STATE = Kind("int8-int16state", "int16")
INT8_STATE = Kind("int8-int8state", "int8", state_zp=-7)


def _svdf_tensors(kind: Kind, rng: np.random.Generator, features: int, memory: int, units: int, rank: int,
                  batch: int = 1, s_in: float = 0.05) -> tuple[list[TensorSpec], dict[str, float]]:
    """Weights, bias and state (indices 0..3) with scales picked from the values' spread, as a converter
    would: the state uses most of its range for typical inputs, the output most of int8's."""
    filters = units * rank
    if not kind.integer:
        wf = rng.normal(0, 0.3, (filters, features)).astype(np.float32)
        wt = rng.normal(0, 0.5, (filters, memory)).astype(np.float32)
        bias = rng.normal(0, 0.2, units).astype(np.float32)
        return [TensorSpec(wf.shape, "float32", data=wf, name="weights_feature"),
                TensorSpec(wt.shape, "float32", data=wt, name="weights_time"),
                TensorSpec(bias.shape, "float32", data=bias, name="bias"),
                TensorSpec((batch, memory * filters), "float32", name="state", is_variable=True)], {}
    s_wf = 0.01
    wf = rng.integers(-127, 128, (filters, features)).astype(np.int8)
    x = rng.integers(-128, 128, (64, features))
    feature = (x @ wf.T.astype(np.int64)) * s_in * s_wf
    state_max = 32767 if kind.state == "int16" else 127
    s_state = float(np.abs(feature).max()) / (0.7 * state_max)
    wt_max = 32767 if kind.state == "int16" else 127
    s_wt = 1.0 / wt_max
    wt = rng.integers(-wt_max, wt_max + 1, (filters, memory)).astype(kind.state)
    # an output scale covering a few steps of accumulated state
    spread = np.abs(feature).max() * np.abs(wt.astype(np.float64) * s_wt).sum(axis=1).max() * rank / 2
    s_out = float(spread) / 100
    s_bias = float(np.float32(s_state) * np.float32(s_wt))
    bias = np.round(rng.uniform(-20, 20, units) * s_out / s_bias).astype(np.int32)  # up to 20 output LSB
    tensors = [TensorSpec(wf.shape, "int8", data=wf, scale=s_wf, name="weights_feature"),
               TensorSpec(wt.shape, kind.state, data=wt, scale=s_wt, name="weights_time"),
               TensorSpec(bias.shape, "int32", data=bias, scale=s_bias, name="bias"),
               TensorSpec((batch, memory * filters), kind.state, scale=s_state, zero_point=kind.state_zp,
                          name="state", is_variable=True)]
    return tensors, {"in": s_in, "out": s_out}


def svdf_model(kind: Kind, *, features: int = 40, memory: int = 8, units: int = 64, rank: int = 1,
               steps: int = 1, activation: str = "NONE", seed: int = 0, batch: int = 1) -> Path:
    """`steps` SVDF ops sharing weights and one state tensor, each on its own [batch, features] input with
    its own [batch, units] output (steps=1: the plain KWS layer)."""
    rng = np.random.default_rng(seed)
    tensors, scales = _svdf_tensors(kind, rng, features, memory, units, rank, batch)
    io = "float32" if not kind.integer else "int8"
    q_in = {} if not kind.integer else {"scale": scales["in"], "zero_point": 3}
    q_out = {} if not kind.integer else {"scale": scales["out"], "zero_point": -2}
    inputs, outputs, ops = [], [], []
    for t in range(steps):
        inputs.append(len(tensors))
        tensors.append(TensorSpec((batch, features), io, name=f"x{t}", **q_in))
        outputs.append(len(tensors))
        tensors.append(TensorSpec((batch, units), io, name=f"y{t}", **q_out))
        ops.append(OpSpec("SVDF", [inputs[-1], 0, 1, 2, 3], [outputs[-1]],
                          {"rank": rank, "fused_activation_function": activation}))
    return write_tflite(tensors, ops, inputs, outputs)


def _tflm_without_reset(path: Path, batches: list[np.ndarray]) -> list[np.ndarray]:
    from tflite_micro.python.tflite_micro import runtime

    interp = runtime.Interpreter.from_file(str(path))
    outs = []
    for n in range(batches[0].shape[0]):
        interp.set_input(np.ascontiguousarray(batches[0][n:n + 1]), 0)
        interp.invoke()
        outs.append(np.array(interp.get_output(0)))
    return outs


@pytest.mark.parametrize("kind,rank,activation", [
    (FLOAT, 1, "RELU"), (FLOAT, 2, "NONE"), (INT16_STATE, 1, "NONE"), (INT16_STATE, 2, "RELU"),
    (INT8_STATE, 2, "NONE")], ids=lambda v: getattr(v, "name", str(v)))
def test_svdf_kws_layer_sequence_exact_with_tflm(kind: Kind, rank: int, activation: str) -> None:
    """40 features x memory 8 x 64 units; samples back to back on one build, each exact vs TFLM (reset per
    sample), while TFLM without the reset differs (the state is really carried and really reset)."""
    path = svdf_model(kind, rank=rank, activation=activation, seed=rank)
    batches = random_inputs(path, SAMPLES, seed=1)
    native = assert_bitexact_with_tflm(path, batches)
    ours = native.run_batch(batches)[0]
    drifting = _tflm_without_reset(path, batches)
    assert any(not np.array_equal(ours[n].reshape(-1), drifting[n].reshape(-1)) for n in range(1, SAMPLES))
    if kind.integer:  # the outputs are not stuck at a rail
        assert len(np.unique(ours)) > 20
    if kind.integer and activation == "RELU":
        # TFLM's integer SVDF ignores the fused RELU (LiteRT's applies it): values below the output zero
        # point (real < 0) are TFLM's, and ours
        assert (ours < -2).any()


@pytest.mark.parametrize("kind", [FLOAT, INT16_STATE, INT8_STATE], ids=lambda k: k.name)
def test_svdf_state_shared_across_steps_exact_with_tflm(kind: Kind) -> None:
    """Five SVDF time steps in one invoke over one state tensor of memory 3, batch 2: the shift and every
    time weight column reach the outputs, exactly as in TFLM (and again after the per-invoke reset)."""
    path = svdf_model(kind, features=12, memory=3, units=6, rank=2, steps=5, seed=5, batch=2)
    assert_bitexact_with_tflm(path, random_inputs(path, 4, seed=2))


def test_svdf_wrong_state_or_output_shape_is_refused_before_codegen() -> None:
    """A state or output that does not hold what the kernel writes is one UserError, no C generated."""
    from tinydeploy.aot.codegen import generate
    from tinydeploy.aot.lowering import TargetFeatures
    from tinydeploy.errors import UserError
    from tinydeploy.model.graph import load_model

    rng = np.random.default_rng(0)
    for state_len, units_out in ((8 * 64 - 1, 64), (8 * 64, 65)):
        tensors, _ = _svdf_tensors(FLOAT, rng, 40, 8, 64, 1)
        tensors[3] = TensorSpec((1, state_len), "float32", name="state", is_variable=True)
        tensors += [TensorSpec((1, 40), "float32"), TensorSpec((1, units_out), "float32")]
        path = write_tflite(tensors, [OpSpec("SVDF", [4, 0, 1, 2, 3], [5], {"rank": 1})], [4], [5])
        with pytest.raises(UserError, match="outside its tensors"):
            generate(load_model(path), TargetFeatures(cpu="host"))


def kws_stack_model() -> Path:
    """A keyword-spotting head as a deployed model has it: SVDF(40 -> 64, memory 8, rank 1, RELU) ->
    SVDF(64 -> 32, memory 4, rank 2, RELU) -> FULLY_CONNECTED(4) -> SOFTMAX, int8 with int16 states."""
    rng = np.random.default_rng(11)
    layer1, q1 = _svdf_tensors(INT16_STATE, rng, 40, 8, 64, 1)
    layer2, q2 = _svdf_tensors(INT16_STATE, rng, 64, 4, 32, 2, s_in=q1["out"])
    w_fc = rng.integers(-127, 128, (4, 32)).astype(np.int8)
    s_fc = 3 / (np.sqrt(32) * 64 * 50 * q2["out"])  # logits of a few units: the softmax is not saturated
    tensors = [TensorSpec((1, 40), "int8", scale=q1["in"], zero_point=3, name="features"), *layer1,
               TensorSpec((1, 64), "int8", scale=q1["out"], zero_point=-2, name="svdf1"), *layer2,
               TensorSpec((1, 32), "int8", scale=q2["out"], zero_point=-2, name="svdf2"),
               TensorSpec(w_fc.shape, "int8", data=w_fc, scale=s_fc, name="fc_weights"),
               TensorSpec((4,), "int32", data=rng.integers(-500, 500, 4).astype(np.int32),
                          scale=q2["out"] * s_fc, name="fc_bias"),
               TensorSpec((1, 4), "int8", scale=8 / 127, zero_point=0, name="logits"),
               TensorSpec((1, 4), "int8", scale=1 / 256, zero_point=-128, name="probs")]
    ops = [OpSpec("SVDF", [0, 1, 2, 3, 4], [5], {"rank": 1, "fused_activation_function": "RELU"}),
           OpSpec("SVDF", [5, 6, 7, 8, 9], [10], {"rank": 2, "fused_activation_function": "RELU"}),
           OpSpec("FULLY_CONNECTED", [10, 11, 12], [13]), OpSpec("SOFTMAX", [13], [14], {"beta": 1.0})]
    return write_tflite(tensors, ops, [0], [10, 14])


def test_svdf_kws_stack_with_classifier_exact_with_tflm() -> None:
    """Two SVDF layers (two state tensors in one arena) under a classifier head, samples back to back."""
    path = kws_stack_model()
    native = assert_bitexact_with_tflm(path, random_inputs(path, SAMPLES, seed=3))
    hidden, probs = native.run_batch(random_inputs(path, SAMPLES, seed=3))
    assert len(np.unique(hidden)) > 20 and len(np.unique(probs)) > 4


def test_svdf_macs_count_both_matrix_products() -> None:
    """inspect/--layers count an SVDF's feature (filters x features) and time (filters x memory) products."""
    from tinydeploy.macs import op_macs
    from tinydeploy.model.graph import load_model

    model = load_model(svdf_model(FLOAT, features=40, memory=8, units=64, rank=2, batch=2))
    assert op_macs(model, model.operators[0]) == 2 * (64 * 2) * (40 + 8)
