"""aot reductions bit-exact with the TFLite Micro interpreter: REDUCE_MAX, REDUCE_MIN, SUM (random axis sets,
keep_dims or not, up to 5-D), ARG_MAX and ARG_MIN (every axis, int32 indices), in TFLM's dtypes.

Random models of independent one-op cases (aotutil_builder); int8/int16 inputs cover the extreme codes (and
so produce ties, where ARG_MAX/MIN must return the first index as TFLM does).  float32 SUM is compared bit
for bit: the kernel adds in TFLM's order (input order, from 0.0f).
"""

from __future__ import annotations

import numpy as np
import pytest

from aotutil import assert_bitexact_with_tflm, build_native, random_inputs
from test_aot_ops_elementwise import Cases
from test_aot_ops_math import quant_for
from tinydeploy.errors import UnsupportedOpError

SEEDS = [1, 2]


def _reduce_case(opcode: str):
    def add(c: Cases, rng: np.random.Generator, dtype: str) -> None:
        rank = int(rng.integers(1, 6))
        shape = tuple(int(rng.integers(1, 6)) for _ in range(rank))
        n_axes = int(rng.integers(1, rank + 1))
        axes = sorted(rng.choice(rank, size=n_axes, replace=False).tolist())
        keep = bool(rng.random() < 0.5)
        signed_axes = [a - rank if rng.random() < 0.3 else a for a in axes]
        out_shape = tuple(1 if k in axes else d for k, d in enumerate(shape)) if keep else \
            tuple(d for k, d in enumerate(shape) if k not in axes)
        qx = quant_for(rng, dtype)
        qy = qx if opcode != "SUM" else quant_for(rng, dtype, 1e-3 * np.sqrt(np.prod(shape)), 2.0)
        x = c.activation(shape, dtype, qx)
        ax = c.const(np.array(signed_axes, dtype=np.int32))
        y = c.activation(out_shape, dtype, qy, name=f"{opcode}_{list(shape)}_{axes}_{keep}")
        c.op(opcode, [x, ax], y, {"keep_dims": keep})
    return add


def _arg_case(opcode: str):
    def add(c: Cases, rng: np.random.Generator, dtype: str) -> None:
        rank = int(rng.integers(1, 5))
        shape = tuple(int(rng.integers(1, 7)) for _ in range(rank))
        axis = int(rng.integers(-rank, rank))
        out_shape = tuple(d for k, d in enumerate(shape) if k != axis % rank)
        x = c.activation(shape, dtype, quant_for(rng, dtype))
        ax = c.const(np.array([axis], dtype=np.int32))
        y = c.activation(out_shape, "int32", None, name=f"{opcode}_{list(shape)}_axis{axis}")
        c.op(opcode, [x, ax], y)
    return add


def _run(add_case, dtype: str, seed: int, count: int = 20) -> None:
    rng = np.random.default_rng(seed)
    c = Cases()
    for _ in range(count):
        add_case(c, rng, dtype)
    path = c.write()
    assert_bitexact_with_tflm(path, random_inputs(path, 5, seed=seed))


PARAMS = [("REDUCE_MAX", "int8"), ("REDUCE_MAX", "float32"), ("REDUCE_MIN", "int8"), ("REDUCE_MIN", "float32"),
          ("SUM", "int8"), ("SUM", "int16"), ("SUM", "float32")]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("opcode,dtype", PARAMS, ids=[f"{o}-{d}" for o, d in PARAMS])
def test_reduce_random(opcode: str, dtype: str, seed: int) -> None:
    _run(_reduce_case(opcode), dtype, seed)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("dtype", ["int8", "float32"])
@pytest.mark.parametrize("opcode", ["ARG_MAX", "ARG_MIN"])
def test_arg_max_min_random(opcode: str, dtype: str, seed: int) -> None:
    _run(_arg_case(opcode), dtype, seed)


def test_reduce_max_with_two_quantizations_is_refused() -> None:
    c = Cases()
    x = c.activation((1, 4, 3), "int8", (0.1, 0))
    ax = c.const(np.array([1], dtype=np.int32))
    y = c.activation((1, 3), "int8", (0.2, 0))
    c.op("REDUCE_MAX", [x, ax], y)
    with pytest.raises(UnsupportedOpError, match="one quantization"):
        build_native(c.write())
