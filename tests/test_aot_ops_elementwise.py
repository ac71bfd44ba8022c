"""aot pooling, element-wise and shape ops bit-exact with the TFLite Micro interpreter.

AVERAGE_POOL_2D, MAX_POOL_2D, ADD, MUL, RELU, RELU6, LEAKY_RELU, PAD, PADV2, CONCATENATION, MEAN,
STRIDED_SLICE and TRANSPOSE, int8 and float32.  Seeded random property tests: each model, written byte by
byte (aotutil_builder), holds a few dozen independent one-op cases side by side, so one native compile and
one TFLM run cover many randomized shapes, strides, paddings, filters, broadcasts, axes, masks and
quantizations (zero points at -128/127, multipliers above and below one); the inputs include the edge codes
-128/127.  A few converter-made models (aotutil.single_op_tflite) check that real converter output lowers
the same way, and every kernel is compiled for Cortex-M0+/M4/M55 with the strict warning set.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from aotutil import assert_bitexact_with_tflm, assert_exact_on_qemu, build_native, build_qemu_firmware, random_inputs
from aotutil_builder import ModelCases, OpSpec, TensorSpec
from tinydeploy.aot.lowering import compute_out_size
from tinydeploy.errors import UnsupportedOpError
from tinydeploy.paths import firmware_dir

ACTS = ["NONE", "RELU", "RELU6", "RELU_N1_TO_1"]
KERNELS = ["avg_pool", "max_pool", "add", "mul", "relu", "leaky_relu", "pad", "concatenation", "mean",
           "strided_slice"]
CASES_RUN: dict[str, int] = {}


class Cases(ModelCases):
    """Independent one-op cases accumulated side by side into one model."""

    def op(self, opcode: str, inputs: list[int], output: int, options: dict | None = None,
           model_inputs: list[int] | None = None) -> None:
        self.ops.append(OpSpec(opcode, inputs, [output], options or {}))
        self.inputs.extend(model_inputs if model_inputs is not None else [inputs[0]])
        self.outputs.append(output)


def _quant(rng: np.random.Generator, lo: float = 1e-3, hi: float = 1.0) -> tuple[float, int]:
    scale = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
    zp = int(rng.choice([-128, 127, 0, int(rng.integers(-128, 128))]))
    return scale, zp


def _run(name: str, seed: int, count: int, add_case: Callable[[Cases, np.random.Generator, bool], None],
         floating: bool, samples: int = 6, optimized: bool = True) -> None:
    rng = np.random.default_rng(seed)
    c = Cases()
    for _ in range(count):
        add_case(c, rng, floating)
    path = c.write()
    assert_bitexact_with_tflm(path, random_inputs(path, samples, seed=seed), optimized=optimized)
    CASES_RUN[name] = CASES_RUN.get(name, 0) + len(c.ops)


SEEDS = [1, 2, 3]


# --- pooling -----------------------------------------------------------------------------------------


def _pool_case(opcode: str) -> Callable[[Cases, np.random.Generator, bool], None]:
    def add(c: Cases, rng: np.random.Generator, floating: bool) -> None:
        while True:
            ih, iw, ch = int(rng.integers(1, 12)), int(rng.integers(1, 12)), int(rng.integers(1, 6))
            fh, fw = int(rng.integers(1, 6)), int(rng.integers(1, 6))
            sh, sw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
            padding = str(rng.choice(["SAME", "VALID"]))
            oh, ow = compute_out_size(padding, ih, fh, sh), compute_out_size(padding, iw, fw, sw)
            if oh > 0 and ow > 0:
                break
        batches = 2 if rng.random() < 0.15 else 1
        act = str(rng.choice(ACTS))
        dtype = "float32" if floating else "int8"
        qx = None if floating else _quant(rng)
        qy = qx  # TFLM's int8 pools require one quantization for input and output
        x = c.activation((batches, ih, iw, ch), dtype, qx)
        y = c.activation((batches, oh, ow, ch), dtype, qy,
                         name=f"{opcode}_{ih}x{iw}x{ch}_f{fh}x{fw}_s{sh}x{sw}_{padding}_{act}")
        c.op(opcode, [x], y, {"padding": padding, "stride_w": sw, "stride_h": sh, "filter_width": fw,
                              "filter_height": fh, "fused_activation_function": act})
    return add


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("opcode", ["AVERAGE_POOL_2D", "MAX_POOL_2D"])
@pytest.mark.parametrize("floating", [False, True], ids=["int8", "float"])
def test_pooling_random(opcode: str, seed: int, floating: bool) -> None:
    _run(opcode, seed, 24, _pool_case(opcode), floating)


def _global_pool_case(c: Cases, rng: np.random.Generator, floating: bool) -> None:
    """One output pixel from a window at the corner (the whole input, SAME with a stride past the edge, or a
    VALID window that leaves the last rows out like DS-CNN's): the optimized build's global average kernel.
    (A window narrower than the input takes the general kernel.)"""
    ih, iw, ch = int(rng.integers(1, 26)), int(rng.integers(1, 9)), int(rng.choice([1, 3, 12, 32]))
    padding = str(rng.choice(["SAME", "VALID"]))
    fh, fw = ih, iw
    if padding == "VALID" and rng.random() < 0.5:  # a window short of the bottom/right edge, stride past it
        fh = max(1, ih - int(rng.integers(0, 3)))
    stride = max(ih, iw) + 2  # past the edge: one output pixel
    batches = 2 if rng.random() < 0.2 else 1
    act = str(rng.choice(ACTS))
    q = _quant(rng)
    x = c.activation((batches, ih, iw, ch), "int8", q)
    y = c.activation((batches, 1, 1, ch), "int8", q, name=f"GLOBAL_AVG_{ih}x{iw}x{ch}_{padding}_{act}")
    c.op("AVERAGE_POOL_2D", [x], y, {"padding": padding, "stride_w": stride, "stride_h": stride,
                                     "filter_width": fw, "filter_height": fh, "fused_activation_function": act})


@pytest.mark.parametrize("seed", SEEDS)
def test_global_average_pool_random(seed: int) -> None:
    _run("AVERAGE_POOL_2D global", seed, 10, _global_pool_case, False, samples=8)
    path_calls = [line for line in build_native(_global_model(seed)).program.files["model.c"].splitlines()
                  if "td_global_avg_pool_s8(" in line]
    assert path_calls  # the optimized build took the global kernel


def _global_model(seed: int) -> Path:
    rng = np.random.default_rng(seed)
    c = Cases()
    _global_pool_case(c, rng, False)
    return c.write()


# --- ADD / MUL -----------------------------------------------------------------------------------------


def _broadcast_shapes(rng: np.random.Generator, max_rank: int) -> tuple[tuple[int, ...], ...]:
    """Two shapes that broadcast (numpy rules: trailing axes, 1 stretches) and their broadcast shape."""
    rank = int(rng.integers(1, max_rank + 1))
    full = tuple(int(rng.integers(1, 5)) for _ in range(rank))
    shapes = []
    for _ in range(2):
        r = int(rng.integers(1, rank + 1)) if rng.random() < 0.5 else rank
        shapes.append(tuple(d if rng.random() < 0.6 else 1 for d in full[rank - r:]))
    if rng.random() < 0.3 or not (shapes[0] or shapes[1]):
        shapes[0] = full  # the common case: one operand has the output's shape
    out = tuple(int(d) for d in np.broadcast_shapes(shapes[0], shapes[1]))
    return shapes[0], shapes[1], out


def _binary_case(opcode: str, max_rank: int) -> Callable[[Cases, np.random.Generator, bool], None]:
    def add(c: Cases, rng: np.random.Generator, floating: bool) -> None:
        a_shape, b_shape, out_shape = _broadcast_shapes(rng, max_rank)
        act = str(rng.choice(ACTS))
        dtype = "float32" if floating else "int8"
        qa = qb = qy = None
        if not floating:
            qa, qb = _quant(rng), _quant(rng)
            if opcode == "ADD":
                qy = _quant(rng, 0.3 * max(qa[0], qb[0]), 4 * max(qa[0], qb[0]))
            else:
                qy = _quant(rng, 0.3 * qa[0] * qb[0] * 16, qa[0] * qb[0] * 800)
        a = c.activation(a_shape, dtype, qa)
        name = f"{opcode}_{list(a_shape)}x{list(b_shape)}_{act}"
        model_inputs = [a]
        if rng.random() < 0.2:  # a constant operand, as the converter makes for `x + const`
            data = (rng.normal(0, 1, b_shape).astype(np.float32) if floating
                    else rng.integers(-128, 128, b_shape).astype(np.int8))
            b = c.tensor(TensorSpec(b_shape, dtype, data=data, scale=None if qb is None else qb[0],
                                    zero_point=0 if qb is None else qb[1]))
        else:
            b = c.activation(b_shape, dtype, qb)
            model_inputs.append(b)
        y = c.activation(out_shape, dtype, qy, name=name)
        c.op(opcode, [a, b], y, {"fused_activation_function": act}, model_inputs=model_inputs)
    return add


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("opcode", ["ADD", "MUL"])
@pytest.mark.parametrize("floating", [False, True], ids=["int8", "float"])
def test_add_mul_broadcast_random(opcode: str, seed: int, floating: bool) -> None:
    _run(opcode, seed, 30, _binary_case(opcode, max_rank=4 + (seed % 3)), floating)


@pytest.mark.parametrize("seed", SEEDS)
def test_mul_reference_kernel_random(seed: int) -> None:
    """optimized=False: td_mul_s8 (TFLM's MultiplyByQuantizedMultiplier), which shares its walk with the fast one."""
    _run("MUL", seed + 100, 30, _binary_case("MUL", max_rank=4 + (seed % 3)), False, optimized=False)


@pytest.mark.qemu
def test_mul_fast_requantization_exact_on_qemu(tmp_path: Path) -> None:
    """td_mul_s8_fast on a DSP core (its SMMULR path; native runs the portable C): random broadcasts, output
    scales from 1/800 to 1/5 of the product's (right shifts 3..10), every activation."""
    from tinydeploy.boards import get_board

    rng = np.random.default_rng(77)
    c = Cases()
    for _ in range(16):
        _binary_case("MUL", max_rank=4)(c, rng, False)
    path = c.write()
    board = get_board("qemu-m4")
    elf = build_qemu_firmware(path, board, tmp_path / "fw")
    assert "td_mul_s8_fast(" in (tmp_path / "fw" / "src" / "model.c").read_text()
    assert_exact_on_qemu(board, elf, path, random_inputs(path, 3, seed=78))


# --- RELU / RELU6 / LEAKY_RELU --------------------------------------------------------------------------


def _unary_case(c: Cases, rng: np.random.Generator, floating: bool) -> None:
    opcode = str(rng.choice(["RELU", "RELU6", "LEAKY_RELU"]))
    shape = tuple(int(rng.integers(1, 6)) for _ in range(int(rng.integers(1, 5))))
    dtype = "float32" if floating else "int8"
    qx = None if floating else _quant(rng, 1e-3, 0.1)
    qy = None if floating else (qx if rng.random() < 0.3 else _quant(rng, 1e-3, 0.1))
    options = {}
    if opcode == "LEAKY_RELU":
        options["alpha"] = float(rng.choice([0.01, 0.1, 0.2, 0.3, -0.5, 1.5, float(rng.uniform(0, 1))]))
    x = c.activation(shape, dtype, qx)
    y = c.activation(shape, dtype, qy, name=f"{opcode}_{options.get('alpha', '')}_{qx}_{qy}")
    c.op(opcode, [x], y, options)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("floating", [False, True], ids=["int8", "float"])
def test_relu_family_random(seed: int, floating: bool) -> None:
    _run("RELU/RELU6/LEAKY_RELU", seed, 40, _unary_case, floating)


@pytest.mark.parametrize("seed", SEEDS)
def test_relu_family_reference_kernels_random(seed: int) -> None:
    """optimized=False: the int8 fixed-point kernels themselves instead of the build-time tables."""
    _run("RELU/RELU6/LEAKY_RELU", seed + 100, 40, _unary_case, False, optimized=False)


def test_activation_chain_runs_in_place() -> None:
    """RELU -> LEAKY_RELU -> ADD -> RELU6 chains: intermediates die at the next op, so the planner may reuse
    their memory in place; the results must not change."""
    rng = np.random.default_rng(7)
    c = Cases()
    for _ in range(6):
        shape = (1, int(rng.integers(1, 6)), int(rng.integers(1, 6)), int(rng.integers(1, 5)))
        q = [_quant(rng, 1e-2, 0.1) for _ in range(5)]
        x = c.activation(shape, "int8", q[0])
        other = c.activation(shape, "int8", q[1])
        t1 = c.activation(shape, "int8", q[2])
        t2 = c.activation(shape, "int8", q[2])
        t3 = c.activation(shape, "int8", q[3])
        y = c.activation(shape, "int8", q[3])
        c.ops += [OpSpec("RELU", [x], [t1]), OpSpec("LEAKY_RELU", [t1], [t2], {"alpha": 0.2}),
                  OpSpec("ADD", [t2, other], [t3]), OpSpec("RELU6", [t3], [y])]
        c.inputs += [x, other]
        c.outputs.append(y)
    path = c.write()
    assert_bitexact_with_tflm(path, random_inputs(path, 8, seed=7))
    CASES_RUN["chains"] = CASES_RUN.get("chains", 0) + 6


# --- PAD / PADV2 ---------------------------------------------------------------------------------------


def _pad_case(c: Cases, rng: np.random.Generator, floating: bool) -> None:
    rank = int(rng.integers(1, 6))  # TFLM's PAD stops at 5-D
    shape = tuple(int(rng.integers(1, 5 if rank < 5 else 3)) for _ in range(rank))
    pads = rng.integers(0, 4 if rank < 5 else 2, size=(rank, 2))
    out_shape = tuple(int(shape[k] + pads[k].sum()) for k in range(rank))
    dtype = "float32" if floating else "int8"
    q = None if floating else _quant(rng)
    x = c.activation(shape, dtype, q)
    p = c.const(pads, "int32")  # TFLM reads paddings as int32
    opcode = "PADV2" if rng.random() < 0.4 else "PAD"
    ins = [x, p]
    if opcode == "PADV2":
        value = (np.array(rng.normal(0, 2), np.float32) if floating
                 else np.array(rng.integers(-128, 128), np.int8))
        ins.append(c.tensor(TensorSpec((), dtype, data=value, scale=None if q is None else q[0],
                                       zero_point=0 if q is None else q[1])))
    y = c.activation(out_shape, dtype, q, name=f"{opcode}_{list(shape)}_{pads.tolist()}")
    c.op(opcode, ins, y)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("floating", [False, True], ids=["int8", "float"])
def test_pad_random(seed: int, floating: bool) -> None:
    _run("PAD/PADV2", seed, 24, _pad_case, floating)


# --- CONCATENATION -----------------------------------------------------------------------------------


def _concat_case(c: Cases, rng: np.random.Generator, floating: bool) -> None:
    rank = int(rng.integers(1, 5))
    base = [int(rng.integers(1, 5)) for _ in range(rank)]
    axis = int(rng.integers(0, rank))
    n = int(rng.integers(1, 5))
    sizes = [int(rng.integers(1, 4)) for _ in range(n)]
    dtype = "float32" if floating else "int8"
    qy = None if floating else _quant(rng)
    ins = []
    model_inputs = []
    for s in sizes:
        shape = tuple(s if k == axis else base[k] for k in range(rank))
        q = qy  # TFLM requires int8 inputs quantized like the output (and copies them as they are)
        if rng.random() < 0.15:
            data = (rng.normal(0, 1, shape).astype(np.float32) if floating
                    else rng.integers(-128, 128, shape).astype(np.int8))
            ins.append(c.tensor(TensorSpec(shape, dtype, data=data, scale=None if q is None else q[0],
                                           zero_point=0 if q is None else q[1])))
        else:
            ins.append(c.activation(shape, dtype, q))
            model_inputs.append(ins[-1])
    if not model_inputs:
        return
    out_shape = tuple(sum(sizes) if k == axis else base[k] for k in range(rank))
    opt_axis = axis - rank if rng.random() < 0.3 else axis
    y = c.activation(out_shape, dtype, qy, name=f"CONCAT_axis{opt_axis}_{sizes}")
    c.op("CONCATENATION", ins, y, {"axis": opt_axis, "fused_activation_function": "NONE"},
         model_inputs=model_inputs)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("floating", [False, True], ids=["int8", "float"])
def test_concatenation_random(seed: int, floating: bool) -> None:
    _run("CONCATENATION", seed, 24, _concat_case, floating)


# --- MEAN --------------------------------------------------------------------------------------------


def _mean_case(c: Cases, rng: np.random.Generator, floating: bool) -> None:
    rank = int(rng.integers(1, 6))
    shape = tuple(int(rng.integers(1, 6)) for _ in range(rank))
    if rank == 4 and rng.random() < 0.4:
        axes = [1, 2]  # global average pooling, the common case
    else:
        axes = sorted(rng.choice(rank, size=int(rng.integers(1, rank + 1)), replace=False).tolist())
    keep = bool(rng.random() < 0.5)
    out_shape = tuple(1 if k in axes else shape[k] for k in range(rank)) if keep else \
        tuple(shape[k] for k in range(rank) if k not in axes)
    written_axes = [a - rank if rng.random() < 0.3 else a for a in axes]
    if rng.random() < 0.15:
        written_axes.append(axes[0] - rank)  # a repeated axis counts once
    dtype = "float32" if floating else "int8"
    qx = None if floating else _quant(rng)
    qy = None if floating else (qx if rng.random() < 0.3 else _quant(rng, 0.2 * qx[0], 3 * qx[0]))
    x = c.activation(shape, dtype, qx)
    ax = c.const(np.array(written_axes, np.int32))
    y = c.activation(out_shape, dtype, qy, name=f"MEAN_{list(shape)}_axes{written_axes}_keep{int(keep)}")
    c.op("MEAN", [x, ax], y, {"keep_dims": keep})


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("floating", [False, True], ids=["int8", "float"])
def test_mean_random(seed: int, floating: bool) -> None:
    _run("MEAN", seed, 24, _mean_case, floating)


# --- STRIDED_SLICE -----------------------------------------------------------------------------------


def _slice_shape(shape: tuple[int, ...], begin: list[int], end: list[int], strides: list[int], begin_mask: int,
                 end_mask: int, shrink_mask: int) -> tuple[int, ...]:
    """Output shape by numpy's slicing (an independent model of TF's semantics for valid slices)."""
    index: list[object] = []
    for k in range(len(shape)):
        if shrink_mask >> k & 1:
            index.append(begin[k])
            continue
        b = None if begin_mask >> k & 1 else begin[k]
        e = None if end_mask >> k & 1 else end[k]
        index.append(slice(b, e, strides[k]))
    return np.zeros(shape)[tuple(index)].shape


def _strided_slice_case(c: Cases, rng: np.random.Generator, floating: bool, max_rank: int = 4) -> None:
    rank = int(rng.integers(1, max_rank + 1))  # TFLM's STRIDED_SLICE stops at 4-D
    shape = tuple(int(rng.integers(1, 7)) for _ in range(rank))
    begin, end, strides = [], [], []
    shrink = 0
    for k, n in enumerate(shape):
        if rng.random() < 0.15:
            shrink |= 1 << k
            b = int(rng.integers(-n, n))
            begin.append(b)
            end.append(b + 1 if b != -1 else 0)
            strides.append(1)
            continue
        stride = int(rng.choice([1, 1, 2, 3, -1, -2]))
        if rng.random() < 0.3:  # anything, out-of-range bounds included
            b, e = int(rng.integers(-n - 2, n + 3)), int(rng.integers(-n - 2, n + 3))
        else:  # a non-empty slice written with positive or negative indices
            lo, hi = sorted(int(v) for v in rng.integers(0, n + 1, size=2))
            lo, hi = (lo, hi + 1) if lo == hi else (lo, hi)
            b, e = (lo, hi) if stride > 0 else (hi - 1, lo - 1 if lo > 0 else -n - 1)
            b = b - n if rng.random() < 0.3 and b < n else b
            e = e - n if rng.random() < 0.3 and 0 <= e < n else e
        begin.append(b)
        end.append(e)
        strides.append(stride)
    begin_mask = int(rng.integers(0, 1 << rank)) & ~shrink if rng.random() < 0.5 else 0
    end_mask = int(rng.integers(0, 1 << rank)) & ~shrink if rng.random() < 0.5 else 0
    out_shape = _slice_shape(shape, begin, end, strides, begin_mask, end_mask, shrink)
    if 0 in out_shape:
        return
    dtype = "float32" if floating else "int8"
    q = None if floating else _quant(rng)
    x = c.activation(shape, dtype, q)
    ins = [x, c.const(np.array(begin, np.int32)), c.const(np.array(end, np.int32)),
           c.const(np.array(strides, np.int32))]
    y = c.activation(out_shape, dtype, q, name=f"SLICE_{list(shape)}_{begin}_{end}_{strides}_"
                                                  f"{begin_mask}_{end_mask}_{shrink}")
    c.op("STRIDED_SLICE", ins, y, {"begin_mask": begin_mask, "end_mask": end_mask, "shrink_axis_mask": shrink})


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("floating", [False, True], ids=["int8", "float"])
def test_strided_slice_random(seed: int, floating: bool) -> None:
    _run("STRIDED_SLICE", seed, 40, _strided_slice_case, floating)


def test_strided_slice_5d_6d_match_numpy() -> None:
    """Beyond TFLM's 4-D limit the independent oracle is numpy's slicing."""
    rng = np.random.default_rng(12)
    c = Cases()
    while len(c.ops) < 12:
        _strided_slice_case(c, rng, False, max_rank=6)
    native = build_native(c.write())
    inputs = [rng.integers(-128, 128, c.tensors[i].shape).astype(np.int8) for i in c.inputs]
    for x, op, y in zip(inputs, c.ops, native.run(inputs)):
        begin, end, strides = (c.tensors[i].data.tolist() for i in op.inputs[1:])
        o = op.options
        index: list[object] = []
        for k in range(x.ndim):
            if o["shrink_axis_mask"] >> k & 1:
                index.append(begin[k])
                continue
            index.append(slice(None if o["begin_mask"] >> k & 1 else begin[k],
                               None if o["end_mask"] >> k & 1 else end[k], strides[k]))
        np.testing.assert_array_equal(y, x[tuple(index)], err_msg=c.tensors[op.outputs[0]].name)
    CASES_RUN["STRIDED_SLICE"] = CASES_RUN.get("STRIDED_SLICE", 0) + len(c.ops)


# --- TRANSPOSE ---------------------------------------------------------------------------------------


def _transpose_case(c: Cases, rng: np.random.Generator, floating: bool) -> None:
    rank = int(rng.integers(1, 6))  # TFLM's TRANSPOSE stops at 5-D; 6-D is checked against numpy below
    shape = tuple(int(rng.integers(1, 5)) for _ in range(rank))
    perm = rng.permutation(rank).tolist()
    dtype = "float32" if floating else "int8"
    q = None if floating else _quant(rng)
    x = c.activation(shape, dtype, q)
    y = c.activation(tuple(shape[p] for p in perm), dtype, q, name=f"TRANSPOSE_{list(shape)}_{perm}")
    c.op("TRANSPOSE", [x, c.const(np.array(perm, np.int32))], y)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("floating", [False, True], ids=["int8", "float"])
def test_transpose_random(seed: int, floating: bool) -> None:
    _run("TRANSPOSE", seed, 24, _transpose_case, floating)


def test_transpose_6d_matches_numpy() -> None:
    rng = np.random.default_rng(11)
    c = Cases()
    cases = []
    for _ in range(8):
        shape = tuple(int(rng.integers(1, 4)) for _ in range(6))
        perm = rng.permutation(6).tolist()
        x = c.activation(shape, "int8", (0.1, 0))
        y = c.activation(tuple(shape[p] for p in perm), "int8", (0.1, 0))
        c.op("TRANSPOSE", [x, c.const(np.array(perm, np.int32))], y)
        cases.append((shape, perm))
    native = build_native(c.write())
    inputs = [rng.integers(-128, 128, shape).astype(np.int8) for shape, _ in cases]
    outs = native.run(inputs)
    for x, (shape, perm), y in zip(inputs, cases, outs):
        np.testing.assert_array_equal(y, np.transpose(x, perm), err_msg=f"{shape} {perm}")
    CASES_RUN["TRANSPOSE"] = CASES_RUN.get("TRANSPOSE", 0) + len(cases)


# --- converter-made models ---------------------------------------------------------------------------


def _converter_models() -> dict[str, tuple[Callable, list[tuple[int, ...]]]]:
    import tensorflow as tf
    import tf_keras as keras

    return {
        "avgpool": (lambda x: keras.layers.AveragePooling2D(3, 2, padding="same")(x), [(1, 9, 7, 5)]),
        "maxpool": (lambda x: keras.layers.MaxPooling2D(2, 2, padding="valid")(x), [(1, 8, 8, 3)]),
        "add": (lambda a, b: keras.layers.Add()([a, b]), [(1, 4, 4, 3), (1, 4, 4, 3)]),
        "mul_bcast": (lambda a, b: a * b, [(1, 4, 4, 3), (1, 1, 1, 3)]),
        "relu": (lambda x: keras.layers.ReLU()(x), [(1, 4, 4, 3)]),
        "relu6": (lambda x: keras.layers.ReLU(6.0)(x), [(1, 4, 4, 3)]),
        "leaky": (lambda x: keras.layers.LeakyReLU(0.2)(x), [(1, 4, 4, 3)]),
        "gap": (lambda x: keras.layers.GlobalAveragePooling2D()(x), [(1, 5, 5, 8)]),
        "pad": (lambda x: keras.layers.ZeroPadding2D(((1, 2), (0, 3)))(x), [(1, 4, 4, 3)]),
        "concat": (lambda a, b: keras.layers.Concatenate(axis=-1)([a, b]), [(1, 4, 4, 3), (1, 4, 4, 2)]),
        "transpose": (lambda x: tf.transpose(x, [0, 2, 1, 3]), [(1, 3, 4, 5)]),
        "slice": (lambda x: x[:, 1:3, ::-1, ::2], [(1, 4, 5, 6)]),
    }


@pytest.mark.parametrize("name", ["avgpool", "maxpool", "add", "mul_bcast", "relu", "relu6", "leaky", "gap",
                                  "pad", "concat", "transpose", "slice"])
@pytest.mark.parametrize("int8", [True, False], ids=["int8", "float"])
def test_converter_models(name: str, int8: bool) -> None:
    from aotutil import single_op_tflite

    fn, shapes = _converter_models()[name]
    path = single_op_tflite(fn, shapes, key=f"elementwise-{name}", int8=int8, input_range=(-3.0, 3.0))
    assert_bitexact_with_tflm(path, random_inputs(path, 12, seed=3))
    CASES_RUN["converter"] = CASES_RUN.get("converter", 0) + 1


# --- unsupported options -----------------------------------------------------------------------------


def test_unsupported_options_are_reported() -> None:
    c = Cases()
    x = c.activation((1, 4, 4, 2), "int8", (0.1, 0))
    y = c.activation((1, 4, 4, 4), "int8", (0.1, 0))
    c.op("CONCATENATION", [x, x], y, {"axis": 3, "fused_activation_function": "RELU"})
    with pytest.raises(UnsupportedOpError, match="CONCATENATION.*fused activation"):
        build_native(c.write())

    c = Cases()
    x = c.activation((4, 4), "int8", (0.1, 0))
    y = c.activation((1, 4, 4), "int8", (0.1, 0))
    ins = [x] + [c.const(np.array(v, np.int32)) for v in ([0, 0], [4, 4], [1, 1])]
    c.op("STRIDED_SLICE", ins, y, {"new_axis_mask": 1})
    with pytest.raises(UnsupportedOpError, match="new_axis_mask"):
        build_native(c.write())


# --- Cortex-M compile check --------------------------------------------------------------------------

CORTEX_M = {
    "cortex-m0plus": ["-mcpu=cortex-m0plus", "-mthumb", "-mfloat-abi=soft"],
    "cortex-m4": ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"],
    "cortex-m55": ["-mcpu=cortex-m55", "-mthumb", "-mfloat-abi=hard"],
}


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc is not installed")
@pytest.mark.parametrize("cpu", sorted(CORTEX_M))
def test_kernels_compile_for_cortex_m(cpu: str, tmp_path: Path) -> None:
    src = firmware_dir() / "aot" / "kernels"
    for k in KERNELS:
        cmd = ["arm-none-eabi-gcc", *CORTEX_M[cpu], "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror",
               "-c", str(src / f"{k}.c"), "-o", str(tmp_path / f"{k}.o")]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, f"{k}.c for {cpu}:\n{proc.stderr}"


def teardown_module() -> None:
    if os.environ.get("TD_REPORT_CASES"):
        print("\ncases per op:", CASES_RUN, "total:", sum(CASES_RUN.values()))
