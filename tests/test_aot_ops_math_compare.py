"""aot comparisons, SELECT_V2 and CAST bit-exact with the TFLite Micro interpreter.

EQUAL/NOT_EQUAL/LESS/LESS_EQUAL/GREATER/GREATER_EQUAL on int8 (equal or different quantizations, so TFLM's
rescaling matters), int32 and float32 with random broadcasts; SELECT_V2 fed by a comparison (a bool tensor
inside the model) with three-way broadcasting; CAST between every pair of float32, int8, int16, int32, bool.
"""

from __future__ import annotations

import numpy as np
import pytest

from aotutil import assert_bitexact_with_tflm, build_native, random_inputs
from aotutil_builder import OpSpec
from test_aot_ops_elementwise import Cases, _broadcast_shapes
from test_aot_ops_math import quant_for
from tinydeploy.errors import UnsupportedOpError

SEEDS = [1, 2]
COMPARISONS = ["EQUAL", "NOT_EQUAL", "LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL"]


def _compare_case(c: Cases, rng: np.random.Generator, dtype: str) -> None:
    opcode = str(rng.choice(COMPARISONS))
    a_shape, b_shape, out_shape = _broadcast_shapes(rng, 4)
    qa = quant_for(rng, dtype, 1e-3, 0.5)
    qb = qa if rng.random() < 0.5 else quant_for(rng, dtype, 1e-3, 0.5)
    a = c.activation(a_shape, dtype, qa)
    b = c.activation(b_shape, dtype, qb)
    y = c.activation(out_shape, "bool", None, name=f"{opcode}_{list(a_shape)}x{list(b_shape)}")
    c.op(opcode, [a, b], y, model_inputs=[a, b])


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("dtype", ["int8", "int32", "float32"])
def test_comparisons_random(dtype: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    c = Cases()
    for _ in range(30):
        _compare_case(c, rng, dtype)
    path = c.write()
    inputs = random_inputs(path, 5, seed=seed)
    if dtype != "float32":  # narrow the values so that equal values (and EQUAL's true) occur
        inputs = [(x % 5).astype(x.dtype) if x.dtype == np.int32 else x for x in inputs]
    assert_bitexact_with_tflm(path, inputs)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("dtype", ["int8", "int16", "float32"])
def test_select_v2_random(dtype: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    c = Cases()
    for _ in range(12):
        c_shape, x_shape, out_shape = _broadcast_shapes(rng, 4)
        y_shape = tuple(d if rng.random() < 0.6 else 1 for d in out_shape)
        p = c.activation(c_shape, "float32", None)
        q = c.activation(c_shape, "float32", None)
        cond = c.activation(c_shape, "bool", None)
        c.ops.append(OpSpec("LESS", [p, q], [cond]))
        qv = quant_for(rng, dtype) if dtype in ("int8", "int16") else None
        x = c.activation(x_shape, dtype, qv)
        yv = c.activation(y_shape, dtype, qv)
        out = c.activation(out_shape, dtype, qv, name=f"SELECT_V2_{list(c_shape)}_{list(x_shape)}_{list(y_shape)}")
        c.op("SELECT_V2", [cond, x, yv], out, model_inputs=[p, q, x, yv])
    path = c.write()
    assert_bitexact_with_tflm(path, random_inputs(path, 4, seed=seed))


CAST_TYPES = ["float32", "int8", "int16", "int32", "bool"]


def test_cast_every_pair() -> None:
    c = Cases()
    for src in CAST_TYPES:
        for dst in CAST_TYPES:
            if src == dst:
                continue
            x = c.activation((2, 7), src, None)
            y = c.activation((2, 7), dst, None, name=f"CAST_{src}_{dst}")
            c.op("CAST", [x], y)
    path = c.write()
    inputs = random_inputs(path, 6, seed=3)
    inputs = [np.where(np.arange(x.size).reshape(x.shape) % 3 == 0, 0, x).astype(x.dtype) for x in inputs]
    assert_bitexact_with_tflm(path, inputs)


def test_cast_to_int64_is_refused() -> None:
    c = Cases()
    x = c.activation((1, 4), "int32", None)
    y = c.activation((1, 4), "int64", None)
    c.op("CAST", [x], y)
    with pytest.raises(UnsupportedOpError, match="CAST from int32 to int64"):
        build_native(c.write())


def test_int16_comparison_is_refused() -> None:
    c = Cases()
    a = c.activation((1, 4), "int16", (0.01, 0))
    b = c.activation((1, 4), "int16", (0.01, 0))
    y = c.activation((1, 4), "bool", None)
    c.op("LESS", [a, b], y, model_inputs=[a, b])
    with pytest.raises(UnsupportedOpError, match="LESS of int16"):
        build_native(c.write())



