"""aot unary math and activations bit-exact with the TFLite Micro interpreter: HARD_SWISH, PRELU, ELU, ABS,
NEG, SQUARE, SQRT, RSQRT, EXP, LOG, CEIL, FLOOR, ROUND, in the dtypes TFLM runs them in.

Seeded random models (aotutil_builder) of many independent one-op cases each, random shapes and
quantizations (scales over four decades, zero points at the int8 extremes, input and output scales equal
or not); int8 inputs cover every code, float inputs are uniform in [-3, 3) with half of the samples snapped
to multiples of 0.5 (ROUND's ties, CEIL/FLOOR's integers).  float32 outputs are compared bit for bit:
the kernels call the same single-precision C library functions as TFLM's reference (expf, expm1f, logf,
sqrtf), and the host build links the same libm as the tflite-micro interpreter.
"""

from __future__ import annotations

import numpy as np
import pytest

from aotutil import assert_bitexact_with_tflm, build_native, random_inputs
from aotutil_builder import TensorSpec
from test_aot_ops_elementwise import Cases, _quant
from test_aot_ops_math import quant_for
from tinydeploy.errors import UnsupportedOpError

SEEDS = [1, 2]
FLOAT_OPS = ["HARD_SWISH", "ELU", "ABS", "NEG", "SQUARE", "SQRT", "RSQRT", "EXP", "LOG", "CEIL", "FLOOR", "ROUND"]
INT8_OPS = ["HARD_SWISH", "ELU", "ABS", "RSQRT"]


def _shape(rng: np.random.Generator) -> tuple[int, ...]:
    return tuple(int(rng.integers(1, 6)) for _ in range(int(rng.integers(1, 5))))


def _inputs(path, seed: int, samples: int = 6) -> list[np.ndarray]:
    batches = random_inputs(path, samples, seed=seed)
    out = []
    for b in batches:
        if b.dtype == np.float32:
            b = b.copy()
            b[::2] = np.round(b[::2] * 2) / 2
        out.append(b)
    return out


def _unary_model(opcode: str, dtype: str, seed: int, count: int):
    rng = np.random.default_rng(seed)
    c = Cases()
    for _ in range(count):
        shape = _shape(rng)
        qx = quant_for(rng, dtype, 1e-3, 0.5)
        if qx is not None and opcode == "RSQRT":
            qx = (qx[0], -128)  # TFLM's int8 RSQRT fails on inputs below the zero point (negative reals)
        qy = qx
        if qx is not None and rng.random() < 0.7:
            qy = quant_for(rng, dtype, 1e-3, 0.5)
            if opcode == "HARD_SWISH":  # TFLM requires out_scale >= in_scale / 128
                qy = (max(qy[0], qx[0] / 100), qy[1])
        x = c.activation(shape, dtype, qx)
        y = c.activation(shape, dtype, qy, name=f"{opcode}_{list(shape)}_{qx}_{qy}")
        c.op(opcode, [x], y)
    return c.write()


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("opcode", FLOAT_OPS)
def test_unary_float_random(opcode: str, seed: int) -> None:
    path = _unary_model(opcode, "float32", seed, 8)
    assert_bitexact_with_tflm(path, _inputs(path, seed))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("opcode", INT8_OPS)
def test_unary_int8_random(opcode: str, seed: int) -> None:
    path = _unary_model(opcode, "int8", seed, 24)
    assert_bitexact_with_tflm(path, _inputs(path, seed, samples=4))


@pytest.mark.parametrize("seed", SEEDS)
def test_abs_int16_random(seed: int) -> None:
    path = _unary_model("ABS", "int16", seed, 16)
    assert_bitexact_with_tflm(path, _inputs(path, seed))


def _prelu_model(dtype: str, seed: int, count: int):
    rng = np.random.default_rng(seed)
    c = Cases()
    for _ in range(count):
        shape = tuple(int(rng.integers(1, 6)) for _ in range(int(rng.integers(2, 5))))
        # alpha as Keras' PReLU makes it (per channel, shared over the other axes) or another broadcast
        alpha_shape = shape[-1:] if rng.random() < 0.5 else tuple(d if rng.random() < 0.5 else 1 for d in shape[1:])
        qx = quant_for(rng, dtype, 1e-3, 0.5)
        qa = quant_for(rng, dtype, 1e-3, 0.5)
        qy = quant_for(rng, dtype, 1e-3, 0.5)
        if dtype == "float32":
            alpha = rng.uniform(-1, 1, alpha_shape).astype(np.float32)
        else:
            alpha = rng.integers(-128, 128, alpha_shape).astype(np.int8)
        x = c.activation(shape, dtype, qx)
        a = c.tensor(TensorSpec(alpha_shape, dtype, data=alpha, scale=None if qa is None else qa[0],
                                zero_point=0 if qa is None else qa[1]))
        y = c.activation(shape, dtype, qy, name=f"PRELU_{list(shape)}_{list(alpha_shape)}")
        c.op("PRELU", [x, a], y)
    return c.write()


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("dtype", ["int8", "float32"])
def test_prelu_random(dtype: str, seed: int) -> None:
    path = _prelu_model(dtype, seed, 20)
    assert_bitexact_with_tflm(path, _inputs(path, seed))


@pytest.mark.parametrize("opcode", ["EXP", "LOG", "SQRT"])
def test_int8_float_only_ops_are_refused_with_a_fix(opcode: str) -> None:
    c = Cases()
    x = c.activation((1, 4), "int8", _quant(np.random.default_rng(0)))
    y = c.activation((1, 4), "int8", (0.1, 0))
    c.op(opcode, [x], y)
    with pytest.raises(UnsupportedOpError, match=rf"{opcode} from int8.*float32 only.*--mode float32"):
        build_native(c.write())
