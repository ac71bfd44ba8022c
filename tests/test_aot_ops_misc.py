"""aot ADD_N, SIN, COS, FLOOR_DIV, FLOOR_MOD, LOGICAL_AND/OR/NOT, REDUCE_ALL, DYNAMIC_UPDATE_SLICE, BROADCAST_ARGS
and SHAPE bit-exact with the TFLite Micro interpreter on the native build, in every dtype TFLM runs them in
(ADD_N float32/int8; SIN, COS, FLOOR_DIV, FLOOR_MOD float32; logical ops and REDUCE_ALL bool;
DYNAMIC_UPDATE_SLICE float32/int8/int16/int32 with int32/int64 indices; BROADCAST_ARGS int32/int64; SHAPE int32).

Seeded random models (aotutil_builder) of many independent one-op cases side by side.  float32 outputs are
compared bit for bit: SIN/COS call sinf/cosf like TFLM's std::sin(float), and the host build links the same
glibc libm as the tflite-micro interpreter (as the EXP/LOG tests do).  On a Cortex-M target newlib's sinf/cosf
are different code and are not bit-exact with TFLM's host results: measured on qemu-m4 (512 values per range,
aot SIN/COS built with the device toolchain vs TFLM on the host), |x| < 3: 42 sin / 58 cos values differ by
1 ulp; |x| < 100: 53 / 59 by 1 ulp; |x| < 1e5: 69 / 72 differ, up to 60 / 34 ulp (newlib's float range
reduction, near zeros of the result); multiples of pi/4: 32 / 26 by 1 ulp.  So on targets SIN/COS are
compared within an ulp tolerance like EXP/LOG in test_aot_ops_math_qemu (large arguments need more).  SIN/COS inputs
include large arguments (|x| up to 1e6) where range reduction matters.  A Keras model through the converter
(tf.math.floormod, floordiv, sin, cos, add_n, logical ops, reduce_all) checks real converter output.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from aotutil import assert_bitexact_with_tflm, build_native, random_inputs, single_op_tflite, tflm_outputs
from aotutil_builder import OPTIONS_OF_OP, TensorSpec
from test_aot_ops_elementwise import Cases, _quant
from tinydeploy.errors import UnsupportedOpError

OPTIONS_OF_OP.setdefault("REDUCE_ALL", "ReducerOptions")


def _shape(rng: np.random.Generator, lo_rank: int = 1, hi_rank: int = 4) -> tuple[int, ...]:
    return tuple(int(rng.integers(1, 5)) for _ in range(int(rng.integers(lo_rank, hi_rank + 1))))


def _broadcast_partner(rng: np.random.Generator, shape: tuple[int, ...]) -> tuple[int, ...]:
    """A shape that broadcasts against `shape` (some axes 1, maybe fewer leading axes)."""
    other = tuple(d if rng.random() < 0.6 else 1 for d in shape)
    return other[int(rng.integers(0, len(other))):] if rng.random() < 0.3 else other


def _bool_inputs(path: Path, count: int, seed: int, p_true: float = 0.5) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [(rng.random(b.shape) < p_true) for b in random_inputs(path, count, seed=seed)]


# --- ADD_N ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "int8"])
def test_add_n_random(dtype: str) -> None:
    rng = np.random.default_rng(3)
    c = Cases()
    for _ in range(12):
        shape = _shape(rng)
        n = int(rng.integers(2, 6))
        qx = _quant(rng, 1e-3, 0.5) if dtype == "int8" else None
        qy = (_quant(rng, 1e-3, 2.0) if rng.random() < 0.8 else qx) if dtype == "int8" else None
        xs = [c.activation(shape, dtype, qx) for _ in range(n)]
        y = c.activation(shape, dtype, qy, name=f"ADD_N_{n}_{list(shape)}_{qx}_{qy}")
        c.op("ADD_N", xs, y, model_inputs=xs)
    path = c.write()
    assert_bitexact_with_tflm(path, random_inputs(path, 6, seed=3))


def test_add_n_int8_mixed_quantizations_refused() -> None:
    c = Cases()
    a, b = c.activation((1, 4), "int8", (0.1, 0)), c.activation((1, 4), "int8", (0.2, 0))
    c.op("ADD_N", [a, b], c.activation((1, 4), "int8", (0.1, 0)), model_inputs=[a, b])
    with pytest.raises(UnsupportedOpError, match="ADD_N inputs of different quantizations"):
        build_native(c.write())


# --- SIN / COS / FLOOR_DIV / FLOOR_MOD ------------------------------------------------------------------


@pytest.mark.parametrize("opcode", ["SIN", "COS"])
def test_sin_cos_random(opcode: str) -> None:
    rng = np.random.default_rng(5)
    c = Cases()
    for _ in range(6):
        shape = _shape(rng)
        x = c.activation(shape, "float32", None)
        c.op(opcode, [x], c.activation(shape, "float32", None, name=f"{opcode}_{list(shape)}"))
    path = c.write()
    batches = random_inputs(path, 8, seed=5)
    for k, b in enumerate(batches):  # large arguments: range reduction; multiples of pi/2-ish; -0.0
        b[1] *= 1e3
        b[2] = rng.uniform(-1e6, 1e6, b[2].shape).astype(np.float32)
        b[3] = np.round(b[3]) * np.float32(np.pi / 2)
        b[4] = -0.0
    assert_bitexact_with_tflm(path, batches)


def _float_binary_model(opcode: str, seed: int, count: int) -> Path:
    rng = np.random.default_rng(seed)
    c = Cases()
    for _ in range(count):
        shape = _shape(rng)
        other = _broadcast_partner(rng, shape) if rng.random() < 0.6 else shape
        a, b = c.activation(shape, "float32", None), c.activation(other, "float32", None)
        if rng.random() < 0.5:
            a, b, shape_a = b, a, other
        out = np.broadcast_shapes(c.tensors[a].shape, c.tensors[b].shape)
        c.op(opcode, [a, b], c.activation(out, "float32", None, name=f"{opcode}_{c.tensors[a].shape}"),
             model_inputs=[a, b])
    return c.write()


def _no_zeros(batches: list[np.ndarray], seed: int) -> list[np.ndarray]:
    """Half the values snapped to multiples of 0.5 (exact quotients, remainders 0, -0.0); never 0 itself."""
    rng = np.random.default_rng(seed)
    out = []
    for b in batches:
        b = b.copy()
        snap = rng.random(b.shape) < 0.5
        b[snap] = np.round(b[snap] * 2) / 2
        b[b == 0] = 1.5
        out.append(b)
    return out


@pytest.mark.parametrize("opcode", ["FLOOR_DIV", "FLOOR_MOD"])
def test_floor_div_mod_random(opcode: str) -> None:
    path = _float_binary_model(opcode, 7, 12)
    batches = _no_zeros(random_inputs(path, 8, seed=7), 7)
    for b in batches:  # extremes: quotients past float range (inf), tiny remainders
        b[3] *= np.float32(1e30)
        b[4] *= np.float32(1e-30)
    assert_bitexact_with_tflm(path, batches)


def test_floor_div_by_zero_fails_the_invoke_like_tflm() -> None:
    c = Cases()
    a, b = c.activation((1, 3), "float32", None), c.activation((1, 3), "float32", None)
    c.op("FLOOR_DIV", [a, b], c.activation((1, 3), "float32", None), model_inputs=[a, b])
    native = build_native(c.write())
    with pytest.raises(RuntimeError, match="model_invoke returned 1"):
        native.run([np.ones((1, 3), np.float32), np.array([[1, 0, 2]], np.float32)])


# --- bool ops --------------------------------------------------------------------------------------------


def test_logical_ops_and_reduce_all_random() -> None:
    rng = np.random.default_rng(11)
    c = Cases()
    for _ in range(8):
        shape = _shape(rng)
        other = _broadcast_partner(rng, shape) if rng.random() < 0.6 else shape
        a, b = c.activation(shape, "bool", None), c.activation(other, "bool", None)
        out = np.broadcast_shapes(shape, other)
        opcode = str(rng.choice(["LOGICAL_AND", "LOGICAL_OR"]))
        c.op(opcode, [a, b], c.activation(out, "bool", None, name=f"{opcode}_{list(shape)}_{list(other)}"),
             model_inputs=[a, b])
    for _ in range(4):
        shape = _shape(rng)
        x = c.activation(shape, "bool", None)
        c.op("LOGICAL_NOT", [x], c.activation(shape, "bool", None, name=f"NOT_{list(shape)}"))
    for _ in range(8):
        shape = _shape(rng, 1, 5)
        rank = len(shape)
        axes = sorted(rng.choice(rank, size=int(rng.integers(1, rank + 1)), replace=False).tolist())
        axes = [a - rank if rng.random() < 0.3 else a for a in axes]
        keep = bool(rng.random() < 0.5)
        out = tuple(1 if k in {a % rank for a in axes} else d for k, d in enumerate(shape)
                    if keep or k not in {a % rank for a in axes}) or (1,)
        x = c.activation(shape, "bool", None)
        ax = c.const(np.array(axes, np.int32))
        c.op("REDUCE_ALL", [x, ax], c.activation(out, "bool", None, name=f"ALL_{list(shape)}_{axes}_{keep}"),
             options={"keep_dims": keep})
    path = c.write()
    # mostly true, so that ALL over a few values is sometimes true
    assert_bitexact_with_tflm(path, _bool_inputs(path, 8, 11, p_true=0.85))


# --- DYNAMIC_UPDATE_SLICE, BROADCAST_ARGS, SHAPE --------------------------------------------------------


@pytest.mark.parametrize("index_dtype", ["int32", "int64"])
def test_dynamic_update_slice_random(index_dtype: str) -> None:
    rng = np.random.default_rng(13)
    c = Cases()
    index_inputs: list[tuple[int, tuple[int, ...]]] = []  # (position among the model inputs, operand shape)
    for k in range(12):
        dtype = ["float32", "int8", "int16", "int32"][k % 4]
        q = (0.05, 3) if dtype in ("int8", "int16") else None
        shape = _shape(rng, 1, 5)
        upd_shape = shape if k % 6 == 5 else tuple(int(rng.integers(1, d + 1)) for d in shape)
        operand, update = c.activation(shape, dtype, q), c.activation(upd_shape, dtype, q)
        idx = c.activation((len(shape),), index_dtype, None)
        c.op("DYNAMIC_UPDATE_SLICE", [operand, update, idx],
             c.activation(shape, dtype, q, name=f"DUS_{dtype}_{list(shape)}_{list(upd_shape)}"),
             model_inputs=[operand, update, idx])
        index_inputs.append((len(c.inputs) - 1, shape))
    path = c.write()
    batches = random_inputs(path, 6, seed=13)
    for pos, shape in index_inputs:  # start indices in range, negative and past the end (clamped)
        batches[pos] = rng.integers(-2, max(shape) + 3, size=batches[pos].shape).astype(index_dtype)
        batches[pos][0] = 0
        batches[pos][1] = np.iinfo(index_dtype).max
    assert_bitexact_with_tflm(path, batches)


@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_broadcast_args_and_shape(dtype: str) -> None:
    c = Cases()
    pairs = [((3,), (2,)), ((1,), (4,)), ((4,), (4,)), ((2,), (5,))]
    for sa, sb in pairs:
        a, b = c.activation(sa, dtype, None), c.activation(sb, dtype, None)
        c.op("BROADCAST_ARGS", [a, b], c.activation((max(sa[0], sb[0]),), dtype, None, name=f"BARGS_{sa}_{sb}"),
             model_inputs=[a, b])
    x = c.activation((2, 3, 1, 5), "int8", (0.1, 0))
    c.op("SHAPE", [x], c.activation((4,), "int32", None, name="SHAPE"))  # a model output: not folded
    path = c.write()
    rng = np.random.default_rng(17)
    batches = []
    for t in c.inputs:
        spec = c.tensors[t]
        n = 4
        if spec.dtype == "int8":
            batches.append(rng.integers(-128, 128, size=(n, *spec.shape)).astype(np.int8))
            continue
        # shape vectors that broadcast: each dim 1 or the common value of that position
        batches.append(np.where(rng.random((n, *spec.shape)) < 0.4, 1, 3 + np.arange(spec.shape[0])[::-1])
                       .astype(dtype))
    for k in range(0, len(batches) - 1, 2):  # align from the end: make position-from-end values agree
        a, b = batches[k], batches[k + 1]
        m = min(a.shape[1], b.shape[1])
        common = 3 + np.arange(m)[::-1]
        a[:, -m:] = np.where(a[:, -m:] == 1, 1, common)
        b[:, -m:] = np.where(b[:, -m:] == 1, 1, common)
    assert_bitexact_with_tflm(path, batches)
    ours = build_native(path).run_batch(batches)
    assert ours[-1].reshape(-1, 4)[0].tolist() == [2, 3, 1, 5]


def test_shape_int64_refused_like_tflm() -> None:
    c = Cases()
    x = c.activation((1, 3), "float32", None)
    c.op("SHAPE", [x], c.activation((2,), "int64", None))
    with pytest.raises(UnsupportedOpError, match="SHAPE on -> int64"):
        build_native(c.write())


# --- through the converter ------------------------------------------------------------------------------


def _converter_model(x):
    import tensorflow as tf

    m = tf.math.floormod(x, 0.75)
    d = tf.math.floordiv(x, -1.25)
    s, co = tf.math.sin(x * 3.0), tf.math.cos(x)
    total = tf.math.add_n([m, d, s, co])
    outside = tf.math.logical_or(x > 0.5, x < -0.9)
    both = tf.math.logical_and(x > -0.5, tf.math.logical_not(outside))
    every = tf.reduce_all(tf.math.logical_or(both, x > 0.9), axis=-1, keepdims=True)
    return [total, tf.cast(every, tf.float32)]


def test_converter_made_float_model() -> None:
    path = single_op_tflite(_converter_model, [(1, 4, 6)], int8=False, key="misc-ops-floormod-sin-addn-v2")
    from tinydeploy.model.graph import load_model

    ops = set(load_model(path).op_names)
    assert {"FLOOR_MOD", "FLOOR_DIV", "SIN", "COS", "ADD_N", "LOGICAL_AND", "LOGICAL_NOT", "LOGICAL_OR",
            "REDUCE_ALL"} <= ops, ops
    batches = random_inputs(path, 6, seed=19)
    assert_bitexact_with_tflm(path, batches)
    assert np.isfinite(tflm_outputs(path, batches)[0]).all()


# --- bounds rules -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["add_n", "dus_output", "dus_update", "broadcast_args", "shape", "reduce_all"])
def test_wrong_shapes_refused_before_codegen(case: str) -> None:
    """A declared output (or operand) the kernel would overrun is one UserError naming the op, no C generated."""
    from tinydeploy.errors import UserError

    c = Cases()
    if case == "add_n":
        a, b = c.activation((1, 4), "float32", None), c.activation((1, 4), "float32", None)
        c.op("ADD_N", [a, b], c.activation((1, 5), "float32", None), model_inputs=[a, b])
    elif case.startswith("dus"):
        x = c.activation((2, 3), "int8", (0.1, 0))
        u = c.activation((1, 4) if case == "dus_update" else (1, 2), "int8", (0.1, 0))
        i = c.activation((2,), "int32", None)
        c.op("DYNAMIC_UPDATE_SLICE", [x, u, i], c.activation((2, 4) if case == "dus_output" else (2, 3), "int8",
                                                              (0.1, 0)), model_inputs=[x, u, i])
    elif case == "broadcast_args":
        a, b = c.activation((3,), "int32", None), c.activation((2,), "int32", None)
        c.op("BROADCAST_ARGS", [a, b], c.activation((4,), "int32", None), model_inputs=[a, b])
    elif case == "shape":
        x = c.activation((1, 2, 3), "float32", None)
        c.op("SHAPE", [x], c.activation((4,), "int32", None))
    else:
        x = c.activation((2, 3), "bool", None)
        c.op("REDUCE_ALL", [x, c.const(np.array([1], np.int32))], c.activation((3,), "bool", None),
             options={"keep_dims": False})
    with pytest.raises(UserError, match="would access memory outside its tensors"):
        build_native(c.write())


MY_KERNELS = ["add_n", "sin", "cos", "floor_div", "floor_mod", "logical", "reduce_all", "dynamic_update_slice",
              "broadcast_args", "copy"]


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc is not installed")
def test_kernels_compile_for_cortex_m(tmp_path: Path) -> None:
    """These kernels (and copy.c, which the variable ops use) build for M0+ (soft float) and M55 with the strict
    set (M4 sits between the two)."""
    from test_aot_ops_elementwise import CORTEX_M
    from tinydeploy.paths import firmware_dir

    src = firmware_dir() / "aot" / "kernels"
    for cpu, flags in CORTEX_M.items():
        if cpu == "cortex-m4":
            continue
        for k in MY_KERNELS:
            cmd = ["arm-none-eabi-gcc", *flags, "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-c",
                   str(src / f"{k}.c"), "-o", str(tmp_path / f"{k}.o")]
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
            assert proc.returncode == 0, f"{k}.c for {cpu}:\n{proc.stderr}"
