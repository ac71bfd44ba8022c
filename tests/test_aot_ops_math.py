"""aot binary math ops bit-exact with the TFLite Micro interpreter: SUB, MINIMUM, MAXIMUM, SQUARED_DIFFERENCE,
DIV, in every dtype TFLM runs them in (int8, int16, int32, float32 as TFLM supports each).

Seeded random property tests like test_aot_ops_elementwise: each model (aotutil_builder) holds a few dozen
independent one-op cases with random broadcast shapes (up to 6-D), quantizations (zero points at the int8
extremes, scales over three decades) and fused activations; the inputs include the extreme codes.  One
native compile and one TFLM run per model; zero differing output elements are required.  float32 results
are compared bit for bit (the kernels use the same IEEE single operations as TFLM's reference code).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from aotutil import assert_bitexact_with_tflm, build_native, random_inputs
from aotutil_builder import TensorSpec
from test_aot_ops_elementwise import ACTS, CORTEX_M, Cases, _broadcast_shapes, _quant
from tinydeploy.errors import UnsupportedOpError
from tinydeploy.paths import firmware_dir

SEEDS = [1, 2]
CaseFn = Callable[[Cases, np.random.Generator, str], None]


def run_cases(seed: int, count: int, add_case: CaseFn, dtype: str, samples: int = 5) -> None:
    rng = np.random.default_rng(seed)
    c = Cases()
    for _ in range(count):
        add_case(c, rng, dtype)
    path = c.write()
    assert_bitexact_with_tflm(path, random_inputs(path, samples, seed=seed))


def quant_for(rng: np.random.Generator, dtype: str, lo: float = 1e-3, hi: float = 1.0) -> tuple[float, int] | None:
    if dtype == "int8":
        return _quant(rng, lo, hi)
    if dtype == "int16":  # TFLM's int16 kernels want symmetric quantization
        return _quant(rng, lo / 256, hi / 256)[0], 0
    return None


def binary_case(opcode: str) -> CaseFn:
    def add(c: Cases, rng: np.random.Generator, dtype: str) -> None:
        a_shape, b_shape, out_shape = _broadcast_shapes(rng, 6 if rng.random() < 0.2 else 4)
        act = str(rng.choice(ACTS)) if opcode in ("SUB", "DIV") else "NONE"
        qa = quant_for(rng, dtype)
        qb = qa if opcode in ("MINIMUM", "MAXIMUM") else quant_for(rng, dtype)
        qy = qa
        if qa is not None and opcode == "SUB":
            big = max(qa[0], qb[0])
            qy = quant_for(rng, dtype, 0.6 * big, 4 * big) if dtype == "int8" else (float(rng.uniform(0.6, 4) * big), 0)
        elif qa is not None and opcode == "SQUARED_DIFFERENCE":
            big = max(qa[0], qb[0])
            scale = float(big * big * np.exp(rng.uniform(np.log(30), np.log(3000))))
            qy = (scale, int(rng.integers(-128, 0)) if dtype == "int8" else 0)
        a = c.activation(a_shape, dtype, qa)
        model_inputs = [a]
        if rng.random() < 0.2:
            data = (rng.uniform(0.5, 2, b_shape) * rng.choice([-1, 1], b_shape) if dtype == "float32"
                    else rng.integers(np.iinfo(dtype).min, np.iinfo(dtype).max, b_shape, endpoint=True))
            b = c.tensor(TensorSpec(b_shape, dtype, data=np.asarray(data).astype(dtype),
                                    scale=None if qb is None else qb[0], zero_point=0 if qb is None else qb[1]))
        else:
            b = c.activation(b_shape, dtype, qb)
            model_inputs.append(b)
        y = c.activation(out_shape, dtype, qy, name=f"{opcode}_{list(a_shape)}x{list(b_shape)}_{act}")
        options = {"fused_activation_function": act} if opcode in ("SUB", "DIV") else {}
        c.op(opcode, [a, b], y, options, model_inputs=model_inputs)
    return add


DTYPES = {
    "SUB": ["int8", "int16", "float32"],
    "MINIMUM": ["int8", "int16", "int32", "float32"],
    "MAXIMUM": ["int8", "int16", "int32", "float32"],
    "SQUARED_DIFFERENCE": ["int8", "int16", "float32"],
    "DIV": ["float32"],
}
PARAMS = [(op, dt) for op, dts in DTYPES.items() for dt in dts]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("opcode,dtype", PARAMS, ids=[f"{o}-{d}" for o, d in PARAMS])
def test_binary_random(opcode: str, dtype: str, seed: int) -> None:
    run_cases(seed, 24, binary_case(opcode), dtype)


def test_int8_div_is_refused_with_a_fix() -> None:
    c = Cases()
    a = c.activation((1, 4), "int8", (0.1, 0))
    b = c.activation((1, 4), "int8", (0.1, 0))
    y = c.activation((1, 4), "int8", (0.1, 0))
    c.op("DIV", [a, b], y, {}, model_inputs=[a, b])
    with pytest.raises(UnsupportedOpError, match=r"DIV.*int8.*float32"):
        build_native(c.write())


# --- every kernel of the math families compiles warning-free for Cortex-M ----------------------------------

MATH_KERNELS = ["sub", "maximum", "minimum", "squared_difference", "div", "abs", "neg", "square", "sqrt", "rsqrt",
                "exp", "log", "ceil", "floor", "round", "elu", "hard_swish", "prelu", "reduce_min_max",
                "sum", "arg_min_max", "comparisons", "select_v2", "cast"]


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc is not installed")
@pytest.mark.parametrize("cpu", sorted(CORTEX_M))
def test_math_kernels_compile_for_cortex_m(cpu: str, tmp_path: Path) -> None:
    src = firmware_dir() / "aot" / "kernels"
    for k in MATH_KERNELS:
        cmd = ["arm-none-eabi-gcc", *CORTEX_M[cpu], "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-Wshadow",
               "-c", str(src / f"{k}.c"), "-o", str(tmp_path / f"{k}.o")]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, f"{k}.c for {cpu}:\n{proc.stderr}"
