"""aot BATCH_MATMUL bit-exact with the TFLite Micro interpreter.

Randomized single-op cases (written byte by byte, several per model as in test_aot_ops_shape): ranks 2 to 5,
broadcast batch dims, adj_x / adj_y, a variable or constant RHS (and constant LHS), random scales and zero
points, in float32, int8 and int16; plus a Keras MultiHeadAttention block (whose attention scores and
context are BATCH_MATMULs of two activations) converted to int8 by tinydeploy.convert and run on native.
"""

from __future__ import annotations

import numpy as np
import pytest

from aotutil import assert_bitexact_with_tflm, random_inputs
from aotutil_builder import TensorSpec
from test_aot_ops_shape import Cases, quant_for, run_cases


def _operand_data(rng: np.random.Generator, shape: list[int], dtype: str) -> np.ndarray:
    if dtype == "float32":
        return rng.uniform(-2, 2, shape).astype(np.float32)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, shape, endpoint=True).astype(dtype)


def _batch_matmul(c: Cases, rng: np.random.Generator, dtype: str) -> None:
    rank = int(rng.integers(2, 6))
    batch = [int(rng.integers(1, 4)) for _ in range(rank - 2)]
    lhs_batch = [d if rng.random() < 0.7 else 1 for d in batch]
    rhs_batch = [d if rng.random() < 0.7 else 1 for d in batch]
    rhs_batch = rhs_batch[int(rng.integers(0, len(rhs_batch) + 1)):] if rng.random() < 0.3 else rhs_batch
    rows, depth, cols = (int(rng.integers(1, 6)) for _ in range(3))
    adj_x, adj_y = bool(rng.random() < 0.5), bool(rng.random() < 0.5)
    lhs_shape = lhs_batch + ([depth, rows] if adj_x else [rows, depth])
    rhs_shape = rhs_batch + ([cols, depth] if adj_y else [depth, cols])
    out_batch = [max(a, b) for a, b in zip(lhs_batch, [1] * (len(lhs_batch) - len(rhs_batch)) + rhs_batch)]
    qs = [quant_for(dtype, rng) for _ in range(3)]
    if qs[2] is not None:  # an output scale that keeps most results inside the output range
        code_std = {"int8": 74.0, "int16": 18900.0}[dtype]
        spread = qs[0][0] * qs[1][0] * code_std * code_std * np.sqrt(depth) / (code_std / 2)
        qs[2] = (float(spread * np.exp(rng.uniform(-1, 1))), qs[2][1])
    const_rhs, const_lhs = rng.random() < 0.4, rng.random() < 0.15

    def operand(shape: list[int], q, const: bool) -> int:
        if not const:
            return c.activation(shape, dtype, q)
        scale, zp = q if q else (None, 0)
        return c.tensor(TensorSpec(tuple(shape), dtype, data=_operand_data(rng, shape, dtype), scale=scale,
                                   zero_point=zp))

    lhs = operand(lhs_shape, qs[0], const_lhs and not const_rhs)
    rhs = operand(rhs_shape, qs[1], const_rhs)
    y = c.activation(out_batch + [rows, cols], dtype, qs[2])
    variables = [t for t, const in ((lhs, const_lhs and not const_rhs), (rhs, const_rhs)) if not const]
    c.op("BATCH_MATMUL", [lhs, rhs], [y], {"adj_x": adj_x, "adj_y": adj_y}, model_inputs=variables)


@pytest.mark.parametrize("dtype", ["int8", "int16", "float32"])
@pytest.mark.parametrize("seed", [1, 2])
def test_batch_matmul_random(dtype: str, seed: int) -> None:
    run_cases(_batch_matmul, dtype, seed=seed * 100 + len(dtype), count=16, samples=8)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_keras_multi_head_attention_converts_and_runs_exact(tmp_path) -> None:
    """A transformer encoder's attention half; float32 conversion of it also runs exact (left out for time)."""
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    from tinydeploy.convert.pipeline import convert_model
    from tinydeploy.model.graph import load_model

    keras.utils.set_random_seed(0)
    inp = keras.Input((8, 16), batch_size=1)
    attended = keras.layers.MultiHeadAttention(num_heads=2, key_dim=8)(inp, inp)
    out = keras.layers.LayerNormalization()(keras.layers.Add()([inp, attended]))
    keras.Model(inp, out).export(str(tmp_path / "saved"), verbose=False)
    np.save(tmp_path / "rep.npy", np.random.default_rng(0).uniform(-1, 1, (16, 8, 16)).astype(np.float32))
    path = tmp_path / "mha_int8.tflite"
    convert_model(tmp_path / "saved", "int8", output=path, rep_data=str(tmp_path / "rep.npy"))
    assert [op.opcode for op in load_model(path).operators].count("BATCH_MATMUL") == 2
    assert_bitexact_with_tflm(path, random_inputs(path, 4, seed=1))
