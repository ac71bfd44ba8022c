"""aot core: CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, RESHAPE, QUANTIZE, DEQUANTIZE bit-exact with TFLM.

Seeded random property tests: each test writes models byte by byte (aotutil_builder) holding many independent
single-op cases side by side (one input and output per case), so one compile and one TFLM run cover a few
dozen randomized configurations: shapes, strides, paddings, dilations, depth multipliers, fused activations,
per-tensor/per-channel scales, zero points, and the edge input codes -128/127.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from aotutil import assert_bitexact_with_tflm, build_native, random_inputs
from aotutil_builder import ModelCases, OpSpec, TensorSpec
from tinydeploy.aot.codegen import kernels_dir
from tinydeploy.aot.lowering import compute_out_size
from tinydeploy.errors import UnsupportedOpError

ACTS = ["NONE", "RELU", "RELU6", "RELU_N1_TO_1"]


class Cases(ModelCases):
    """Accumulates independent one-op cases into one model (the ops appended directly)."""


def _scale(rng: np.random.Generator, lo: float = 1e-3, hi: float = 0.5) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _zp(rng: np.random.Generator) -> int:
    return int(rng.choice([-128, 127, 0, int(rng.integers(-128, 128))]))


def _conv_like_case(c: Cases, rng: np.random.Generator, depthwise: bool, floating: bool,
                    pointwise: bool = False) -> None:
    while True:
        in_h, in_w = int(rng.integers(1, 11)), int(rng.integers(1, 11))
        in_c = int(rng.integers(1, 7)) if not pointwise else int(rng.integers(1, 40))
        k_h, k_w = (int(rng.integers(1, 5)), int(rng.integers(1, 5))) if not pointwise else (1, 1)
        stride_h, stride_w = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        dil_h, dil_w = (int(rng.integers(1, 4)), int(rng.integers(1, 4))) if rng.random() < 0.4 else (1, 1)
        padding = str(rng.choice(["SAME", "VALID"]))
        out_h = compute_out_size(padding, in_h, k_h, stride_h, dil_h)
        out_w = compute_out_size(padding, in_w, k_w, stride_w, dil_w)
        if out_h >= 1 and out_w >= 1:
            break
    batches = 2 if rng.random() < 0.15 else 1
    mult = int(rng.integers(1, 4)) if depthwise else 0
    out_c = in_c * mult if depthwise else int(rng.integers(1, 9))
    act = str(rng.choice(ACTS))
    w_shape = (1, k_h, k_w, out_c) if depthwise else (out_c, k_h, k_w, in_c)
    has_bias = rng.random() < 0.85
    options = {"padding": padding, "stride_w": stride_w, "stride_h": stride_h,
               "fused_activation_function": act, "dilation_w_factor": dil_w, "dilation_h_factor": dil_h}
    if depthwise:
        options["depth_multiplier"] = mult
    if floating:
        x = c.tensor(TensorSpec((batches, in_h, in_w, in_c), "float32"))
        w = c.tensor(TensorSpec(w_shape, "float32", data=rng.normal(0, 0.5, w_shape).astype(np.float32)))
        ins = [x, w]
        if has_bias:
            ins.append(c.tensor(TensorSpec((out_c,), "float32", data=rng.normal(0, 1, out_c).astype(np.float32))))
        y = c.tensor(TensorSpec((batches, out_h, out_w, out_c), "float32"))
    else:
        in_scale, in_zp = _scale(rng), _zp(rng)
        per_channel = rng.random() < 0.8
        w_scales = np.array([_scale(rng, 1e-4, 0.05) for _ in range(out_c if per_channel else 1)], np.float32)
        w_data = rng.integers(-127, 128, size=w_shape).astype(np.int8)
        x = c.tensor(TensorSpec((batches, in_h, in_w, in_c), "int8", scale=in_scale, zero_point=in_zp))
        w = c.tensor(TensorSpec(w_shape, "int8", data=w_data, scale=w_scales, axis=3 if depthwise else 0))
        ins = [x, w]
        if has_bias:
            b_scales = np.broadcast_to(w_scales * np.float32(in_scale), (out_c,))
            ins.append(c.tensor(TensorSpec((out_c,), "int32", data=rng.integers(-5000, 5000, out_c).astype(np.int32),
                                           scale=b_scales, axis=0)))
        # an output scale near the accumulator's so that outputs spread over the code range; sometimes tiny
        # (multipliers > 1, positive shifts) or large
        acc_scale = in_scale * float(w_scales.mean()) * np.sqrt(k_h * k_w * max(in_c if not depthwise else 1, 1)) * 60
        out_scale = float(acc_scale * np.exp(rng.uniform(-3, 1.5)))
        y = c.tensor(TensorSpec((batches, out_h, out_w, out_c), "int8", scale=out_scale, zero_point=_zp(rng)))
    if not has_bias and not depthwise and rng.random() < 0.5:
        ins.append(-1)  # an explicitly omitted optional bias (TFLM's depthwise kernel crashes on that)
    c.ops.append(OpSpec("DEPTHWISE_CONV_2D" if depthwise else "CONV_2D", ins, [y], options))
    c.inputs.append(x)
    c.outputs.append(y)


def _fc_case(c: Cases, rng: np.random.Generator, floating: bool) -> None:
    depth, units = int(rng.integers(1, 40)), int(rng.integers(1, 20))
    batches = int(rng.integers(1, 4))
    keep = bool(rng.random() < 0.4)
    act = str(rng.choice(ACTS))
    if keep:
        in_shape: tuple[int, ...] = (1, batches, depth)
        out_shape: tuple[int, ...] = (1, batches, units)
    elif rng.random() < 0.3 and batches == 1:
        in_shape, out_shape = (1, 2, depth // 2 if depth % 2 == 0 and depth > 1 else depth), (1, units)
        if in_shape[2] * 2 != depth:
            in_shape = (1, depth)
    else:
        in_shape, out_shape = (batches, depth), (batches, units)
    options = {"fused_activation_function": act, "keep_num_dims": keep}
    has_bias = rng.random() < 0.8
    if floating:
        x = c.tensor(TensorSpec(in_shape, "float32"))
        w = c.tensor(TensorSpec((units, depth), "float32", data=rng.normal(0, 0.5, (units, depth)).astype(np.float32)))
        ins = [x, w]
        if has_bias:
            ins.append(c.tensor(TensorSpec((units,), "float32", data=rng.normal(0, 1, units).astype(np.float32))))
        y = c.tensor(TensorSpec(out_shape, "float32"))
    else:
        in_scale, in_zp = _scale(rng), _zp(rng)
        per_channel = rng.random() < 0.3
        w_scales = np.array([_scale(rng, 1e-4, 0.05) for _ in range(units if per_channel else 1)], np.float32)
        x = c.tensor(TensorSpec(in_shape, "int8", scale=in_scale, zero_point=in_zp))
        w = c.tensor(TensorSpec((units, depth), "int8", data=rng.integers(-127, 128, (units, depth)).astype(np.int8),
                                scale=w_scales, axis=0))
        ins = [x, w]
        if has_bias:
            b_scales = np.broadcast_to(w_scales * np.float32(in_scale), (units,)) if per_channel else \
                float(w_scales[0]) * in_scale
            ins.append(c.tensor(TensorSpec((units,), "int32", data=rng.integers(-5000, 5000, units).astype(np.int32),
                                           scale=b_scales)))
        out_scale = float(in_scale * w_scales.mean() * np.sqrt(depth) * 60 * np.exp(rng.uniform(-3, 1.5)))
        y = c.tensor(TensorSpec(out_shape, "int8", scale=out_scale, zero_point=_zp(rng)))
    c.ops.append(OpSpec("FULLY_CONNECTED", ins, [y], options))
    c.inputs.append(x)
    c.outputs.append(y)


# kernel selections: the reference kernels, the optimized ones (portable C on the host), and the optimized
# ones running their Cortex-M DSP algorithm (SXTB16/SMLAD emulated in C)
FLAVOURS = ["reference", "optimized", "optimized-dsp"]


def _run_cases(seed: int, count: int, add: Callable[[Cases, np.random.Generator], None], flavour: str,
               samples: int = 6) -> None:
    rng = np.random.default_rng(seed)
    c = Cases()
    for _ in range(count):
        add(c, rng)
    path = c.write()
    optimized = flavour != "reference"
    flags = ["-DTD_EMULATE_DSP"] if flavour == "optimized-dsp" else []
    native = build_native(path, optimized=optimized, extra_flags=flags)
    assert_bitexact_with_tflm(path, random_inputs(path, samples, seed=seed), optimized=optimized, native=native)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_conv2d_int8_random(seed: int, flavour: str) -> None:
    _run_cases(100 + seed, 25, lambda c, r: _conv_like_case(c, r, depthwise=False, floating=False), flavour)


@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_pointwise_conv2d_int8_random(seed: int, flavour: str) -> None:
    """1x1 filters: the optimized kernel's matrix-product path (odd pixel and channel counts included)."""
    _run_cases(150 + seed, 25, lambda c, r: _conv_like_case(c, r, depthwise=False, floating=False, pointwise=True),
               flavour)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_depthwise_conv2d_int8_random(seed: int, flavour: str) -> None:
    _run_cases(200 + seed, 25, lambda c, r: _conv_like_case(c, r, depthwise=True, floating=False), flavour)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_fully_connected_int8_random(seed: int, flavour: str) -> None:
    _run_cases(300 + seed, 25, lambda c, r: _fc_case(c, r, floating=False), flavour)


@pytest.mark.parametrize("seed", range(2))
def test_float_conv_depthwise_fc_random(seed: int) -> None:
    def add(c: Cases, rng: np.random.Generator) -> None:
        kind = rng.integers(0, 3)
        if kind == 2:
            _fc_case(c, rng, floating=True)
        else:
            _conv_like_case(c, rng, depthwise=bool(kind), floating=True)

    _run_cases(400 + seed, 30, add, "reference")


@pytest.mark.parametrize("seed", range(3))
def test_quantize_dequantize_random(seed: int) -> None:
    rng = np.random.default_rng(500 + seed)
    c = Cases()
    for _ in range(20):
        n = int(rng.integers(1, 50))
        kind = rng.integers(0, 3)
        if kind == 0:  # float -> int8
            x = c.tensor(TensorSpec((1, n), "float32"))
            y = c.tensor(TensorSpec((1, n), "int8", scale=_scale(rng, 1e-3, 0.2), zero_point=_zp(rng)))
            c.ops.append(OpSpec("QUANTIZE", [x], [y]))
        elif kind == 1:  # int8 -> int8 requantize
            x = c.tensor(TensorSpec((1, n), "int8", scale=_scale(rng), zero_point=_zp(rng)))
            y = c.tensor(TensorSpec((1, n), "int8", scale=_scale(rng), zero_point=_zp(rng)))
            c.ops.append(OpSpec("QUANTIZE", [x], [y]))
        else:  # int8 -> float
            x = c.tensor(TensorSpec((1, n), "int8", scale=_scale(rng), zero_point=_zp(rng)))
            y = c.tensor(TensorSpec((1, n), "float32"))
            c.ops.append(OpSpec("DEQUANTIZE", [x], [y]))
        c.inputs.append(x)
        c.outputs.append(y)
    path = c.write()
    inputs = random_inputs(path, 8, seed=seed)
    # exact halves (x / scale == k + 0.5) exercise round-half-away-from-zero
    for arr, t in zip(inputs, c.inputs):
        spec = c.tensors[t]
        if spec.dtype == "float32":
            out_scale = float(np.float32(c.tensors[t + 1].scale))
            halves = (np.arange(arr[3].size) - arr[3].size // 2 + 0.5) * out_scale
            arr[3] = halves.reshape(arr[3].shape).astype(np.float32)
            # far out of range, but x / scale still fits an int32: beyond that TFLM's float->int32 cast is
            # undefined (x86 gives INT32_MIN, Arm saturates); our kernel saturates
            arr[4] = 1e6
            arr[5] = -1e6
    assert_bitexact_with_tflm(path, inputs)


def test_reshape_chain_is_aliased() -> None:
    """RESHAPE/SQUEEZE between ops cost no code and no memory; a QUANTIZE in place runs over its input."""
    rng = np.random.default_rng(7)
    c = Cases()
    x = c.tensor(TensorSpec((1, 4, 6), "int8", scale=0.1, zero_point=3))
    shape = c.tensor(TensorSpec((2,), "int32", data=np.array([1, 24], np.int32)))
    r = c.tensor(TensorSpec((1, 24), "int8", scale=0.1, zero_point=3))
    q = c.tensor(TensorSpec((1, 24), "int8", scale=0.07, zero_point=-5))
    w = c.tensor(TensorSpec((5, 24), "int8", data=rng.integers(-127, 128, (5, 24)).astype(np.int8), scale=0.01))
    y = c.tensor(TensorSpec((1, 5), "int8", scale=0.2, zero_point=1))
    y2 = c.tensor(TensorSpec((1, 1, 5), "int8", scale=0.2, zero_point=1))
    c.ops += [OpSpec("RESHAPE", [x, shape], [r], {"new_shape": [1, 24]}), OpSpec("QUANTIZE", [r], [q]),
              OpSpec("FULLY_CONNECTED", [q, w], [y]), OpSpec("RESHAPE", [y], [y2], {"new_shape": [1, 1, 5]})]
    c.inputs, c.outputs = [x], [y2]
    path = c.write()
    native = assert_bitexact_with_tflm(path, random_inputs(path, 10))
    program = native.program
    assert program.op_count == 4
    assert "RESHAPE" not in "".join(line for op in program.plan.buffers for line in op.label)
    assert program.plan.offsets[x] == program.plan.offsets[r] == program.plan.offsets[q]  # alias + in place
    assert program.plan.offsets[y] == program.plan.offsets[y2]
    body = program.files["model.c"].split("int model_invoke(void)")[1].split("return 0;")[0]
    calls = [line.strip().split("(")[0] for line in body.splitlines() if line.strip().startswith("td_")]
    assert calls == ["td_requantize_s8_s8", "td_fully_connected_s8"]  # 120 MACs: the reference kernel either way


def test_unsupported_op_names_op_layer_and_advice() -> None:
    c = Cases()
    x = c.tensor(TensorSpec((1, 8), "float32", name="input"))
    y = c.tensor(TensorSpec((1, 8, 8), "float32", name="my_layer/MatrixDiag"))
    c.ops.append(OpSpec("MATRIX_DIAG", [x], [y]))  # an op TFLM lacks too: aot will not grow it soon
    c.inputs, c.outputs = [x], [y]
    with pytest.raises(UnsupportedOpError) as err:
        build_native(c.write())
    message = str(err.value)
    assert "MATRIX_DIAG" in message and "my_layer/MatrixDiag" in message and "--runtime tflm" in message


def test_unsupported_option_is_reported() -> None:
    c = Cases()
    x = c.tensor(TensorSpec((1, 4, 4, 2), "int8", scale=0.1))
    w = c.tensor(TensorSpec((3, 1, 1, 2), "int8", data=np.ones((3, 1, 1, 2), np.int8), scale=0.1))
    y = c.tensor(TensorSpec((1, 4, 4, 3), "int8", scale=0.1, name="conv_tanh"))
    c.ops.append(OpSpec("CONV_2D", [x, w], [y], {"padding": "SAME", "stride_w": 1, "stride_h": 1,
                                                 "fused_activation_function": "TANH"}))
    c.inputs, c.outputs = [x], [y]
    with pytest.raises(UnsupportedOpError, match=r"CONV_2D.*conv_tanh.*TANH.*--runtime tflm"):
        build_native(c.write())


def test_mixed_core_model_int8_and_float() -> None:
    """QUANTIZE -> CONV -> DEPTHWISE -> RESHAPE -> FC -> DEQUANTIZE -> float FC/CONV/DEPTHWISE, end to end."""
    from test_aot_core_arm import _all_core_ops_model

    path = _all_core_ops_model()
    for optimized in (False, True):
        native = assert_bitexact_with_tflm(path, random_inputs(path, 10), optimized=optimized)
    assert native.program.op_count == 10
    assert native.program.arena_bytes < native.program.plan.naive_bytes


_REQUANT_CHECK = r"""
#include <stdio.h>
#include "td_dot_s8.h"
static unsigned long long st = 88172645463325252ull;
static uint32_t rnd(void) { st ^= st << 13; st ^= st >> 7; st ^= st << 17; return (uint32_t)st; }
int main(void) {
  static const int32_t edges[] = {0, 1, -1, 2, -2, 127, -128, 255, -256, 1 << 20, -(1 << 20), 2147483647,
                                  -2147483647 - 1, 1073741824, -1073741824, 12345678, -12345678};
  long bad = 0, i;
  for (i = 0; i < 3000000; ++i) {
    int32_t x = (i % 4 == 0) ? edges[rnd() % 17] + (int32_t)(rnd() % 5) - 2 : (int32_t)rnd();
    int32_t m = (rnd() % 50 == 0) ? 0 : (int32_t)((1u << 30) + (rnd() & ((1u << 30) - 1)));
    int32_t s = (int32_t)(rnd() % 40) - 31;
    if (i % 3 == 0) x >>= (rnd() % 31);
    if (i % 1000 == 0) m = 2147483647;
    if (i % 1001 == 0) m = 1 << 30;
    if (td_mul_by_quantized_multiplier(x, m, s) != td_requant_mul(x, m, s)) {
      if (bad++ < 5) printf("x=%d m=%d s=%d\n", (int)x, (int)m, (int)s);
    }
  }
  printf("%ld differ\n", bad);
  return bad != 0;
}
"""


def test_fast_requantization_equals_gemmlowp(tmp_path: Path) -> None:
    """td_requant_mul (one multiply-accumulate and shifts) == td_mul_by_quantized_multiplier (gemmlowp's double
    rounding, TFLM's arithmetic) for every multiplier QuantizeMultiplier can produce, over random and edge values."""
    src = tmp_path / "check.c"
    src.write_text(_REQUANT_CHECK)
    exe = tmp_path / "check"
    subprocess.run(["gcc", "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", f"-I{kernels_dir()}", str(src), "-o",
                    str(exe)], check=True, timeout=120)
    proc = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout
