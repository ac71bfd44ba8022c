"""The speed-specialised int8 kernels (issue 7) give exactly TFLM's outputs.

The shapes the fast paths select -- packed-weight conv as a matrix product (im2col with zero-point padding,
1x1 in place), depthwise with depth multiplier 1 and channels a multiple of 4 (whole 3x3 windows unrolled),
the fast requantization the generator proves safe -- are drawn on purpose here, with the edge codes and
zero points of the core tests.  Natively (portable C and the DSP algorithm emulated in C) and on qemu-m4,
where the inline-assembly SMLAD/SMMULR loops run for real.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from aotutil import assert_bitexact_with_tflm, assert_exact_on_qemu, build_native, build_qemu_firmware, random_inputs
from aotutil_builder import OpSpec, TensorSpec
from test_aot_core import ACTS, Cases, _scale, _zp
from tinydeploy.aot.lowering import TargetFeatures, compute_out_size
from tinydeploy.aot.codegen import kernels_dir
from tinydeploy.aot.ops.conv2d import MAX_FAST_EXPONENT, fast_requant_table, pack_pairs, pack_rows

FLAVOURS = ["optimized", "optimized-dsp"]


def _target(flavour: str, small_layer_macs: int = 0) -> TargetFeatures:
    """The host target; "optimized-dsp" also tells the generator the DSP extension is there (the build
    emulates it: -DTD_EMULATE_DSP), so it picks the DSP kernels' variants."""
    return TargetFeatures(cpu="host", dsp=flavour == "optimized-dsp", small_layer_macs=small_layer_macs)


def _conv_case(c: Cases, rng: np.random.Generator, depthwise: bool) -> None:
    """Shapes of the benchmark models' layers: 3x3 / 1x1 / odd filters, channels multiples of 4 (and not)."""
    while True:
        in_h, in_w = int(rng.integers(1, 12)), int(rng.integers(1, 12))
        in_c = int(rng.choice([4, 8, 12, 16, 20, 32])) if depthwise or rng.random() < 0.7 else int(rng.integers(1, 20))
        k_h, k_w = [(3, 3), (3, 3), (1, 1), (10, 4), (2, 3)][int(rng.integers(0, 5))]
        stride_h = stride_w = int(rng.choice([1, 2]))
        dil_h, dil_w = (2, 1) if rng.random() < 0.15 else (1, 1)
        padding = str(rng.choice(["SAME", "SAME", "VALID"]))
        out_h = compute_out_size(padding, in_h, k_h, stride_h, dil_h)
        out_w = compute_out_size(padding, in_w, k_w, stride_w, dil_w)
        if out_h >= 1 and out_w >= 1:
            break
    # across the kernels' 16-channel requantization blocks too (odd counts included)
    out_c = in_c if depthwise else int(rng.choice([int(rng.integers(1, 12)), 16, 17, 33]))
    batches = 2 if rng.random() < 0.2 else 1
    w_shape = (1, k_h, k_w, out_c) if depthwise else (out_c, k_h, k_w, in_c)
    in_scale, in_zp = _scale(rng), _zp(rng)
    w_scales = np.array([_scale(rng, 1e-4, 0.05) for _ in range(out_c)], np.float32)
    x = c.tensor(TensorSpec((batches, in_h, in_w, in_c), "int8", scale=in_scale, zero_point=in_zp))
    w = c.tensor(TensorSpec(w_shape, "int8", data=rng.integers(-127, 128, size=w_shape).astype(np.int8),
                            scale=w_scales, axis=3 if depthwise else 0))
    ins = [x, w]
    if rng.random() < 0.85:
        big = 2_000_000_000 if rng.random() < 0.1 else 5000  # huge biases: the fast requantization must step aside
        ins.append(c.tensor(TensorSpec((out_c,), "int32", data=rng.integers(-big, big, out_c).astype(np.int32),
                                       scale=w_scales * np.float32(in_scale), axis=0)))
    depth = k_h * k_w * (1 if depthwise else in_c)
    acc_scale = in_scale * float(w_scales.mean()) * np.sqrt(depth) * 60
    out_scale = float(acc_scale * np.exp(rng.uniform(-3, 1.5)))
    y = c.tensor(TensorSpec((batches, out_h, out_w, out_c), "int8", scale=out_scale, zero_point=_zp(rng)))
    options = {"padding": padding, "stride_w": stride_w, "stride_h": stride_h,
               "fused_activation_function": str(rng.choice(ACTS)), "dilation_w_factor": dil_w,
               "dilation_h_factor": dil_h}
    if depthwise:
        options["depth_multiplier"] = 1
    c.ops.append(OpSpec("DEPTHWISE_CONV_2D" if depthwise else "CONV_2D", ins, [y], options))
    c.inputs.append(x)
    c.outputs.append(y)


def _fc_case(c: Cases, rng: np.random.Generator, small: bool = False) -> None:
    """small: at most 64 x 20 x 3 MACs, under TargetFeatures.small_layer_macs (a classifier head)."""
    depth, units = int(rng.choice([8, 64, 128, int(rng.integers(1, 70))])), int(rng.integers(1, 20))
    if small:
        depth = min(depth, 64)
    batches = int(rng.choice([1, 1, 2, 3]))
    in_scale, in_zp = _scale(rng), _zp(rng)
    per_channel = rng.random() < 0.3
    w_scales = np.array([_scale(rng, 1e-4, 0.05) for _ in range(units if per_channel else 1)], np.float32)
    x = c.tensor(TensorSpec((batches, depth), "int8", scale=in_scale, zero_point=in_zp))
    w = c.tensor(TensorSpec((units, depth), "int8", data=rng.integers(-127, 128, (units, depth)).astype(np.int8),
                            scale=w_scales, axis=0))
    ins = [x, w]
    if rng.random() < 0.8:
        b_scales = np.broadcast_to(w_scales * np.float32(in_scale), (units,)) if per_channel else \
            float(w_scales[0]) * in_scale
        ins.append(c.tensor(TensorSpec((units,), "int32", data=rng.integers(-5000, 5000, units).astype(np.int32),
                                       scale=b_scales)))
    out_scale = float(in_scale * w_scales.mean() * np.sqrt(depth) * 60 * np.exp(rng.uniform(-3, 1.5)))
    y = c.tensor(TensorSpec((batches, units), "int8", scale=out_scale, zero_point=_zp(rng)))
    c.ops.append(OpSpec("FULLY_CONNECTED", ins, [y], {"fused_activation_function": str(rng.choice(ACTS))}))
    c.inputs.append(x)
    c.outputs.append(y)


def _model(seed: int, count: int = 12) -> Path:
    rng = np.random.default_rng(seed)
    c = Cases()
    for i in range(count):
        kind = i % 3
        if kind == 2:
            _fc_case(c, rng)
        else:
            _conv_case(c, rng, depthwise=bool(kind))
    return c.write()


def _shallow_conv_case(c: Cases, rng: np.random.Generator) -> None:
    """Issue 17's shapes: 1x1 and 3x3 convolutions over 1..16 input channels (first layers, MobileNetV2's
    narrow 1x1 expansions), odd and even output channels, stride 1 or 2, SAME or VALID."""
    in_h, in_w = int(rng.integers(3, 10)), int(rng.integers(3, 10))
    in_c = int(rng.integers(1, 17))
    k = int(rng.choice([1, 1, 3]))
    stride = int(rng.choice([1, 2]))
    padding = str(rng.choice(["SAME", "VALID"])) if k > 1 else "VALID"
    out_h, out_w = compute_out_size(padding, in_h, k, stride, 1), compute_out_size(padding, in_w, k, stride, 1)
    out_c = int(rng.choice([int(rng.integers(1, 20)) | 1, 48, 17]))
    in_scale, in_zp = _scale(rng), _zp(rng)
    w_scales = np.array([_scale(rng, 1e-4, 0.05) for _ in range(out_c)], np.float32)
    w_shape = (out_c, k, k, in_c)
    x = c.tensor(TensorSpec((1, in_h, in_w, in_c), "int8", scale=in_scale, zero_point=in_zp))
    w = c.tensor(TensorSpec(w_shape, "int8", data=rng.integers(-127, 128, size=w_shape).astype(np.int8),
                            scale=w_scales, axis=0))
    b = c.tensor(TensorSpec((out_c,), "int32", data=rng.integers(-5000, 5000, out_c).astype(np.int32),
                            scale=w_scales * np.float32(in_scale), axis=0))
    out_scale = float(in_scale * float(w_scales.mean()) * np.sqrt(k * k * in_c) * 60 * np.exp(rng.uniform(-3, 1)))
    y = c.tensor(TensorSpec((1, out_h, out_w, out_c), "int8", scale=out_scale, zero_point=_zp(rng)))
    c.ops.append(OpSpec("CONV_2D", [x, w, b], [y], {"padding": padding, "stride_w": stride, "stride_h": stride,
                                                    "fused_activation_function": str(rng.choice(ACTS))}))
    c.inputs.append(x)
    c.outputs.append(y)


def _shallow_model(seed: int, count: int = 10) -> Path:
    rng = np.random.default_rng(seed)
    c = Cases()
    for _ in range(count):
        _shallow_conv_case(c, rng)
    return c.write()


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_shallow_convs_exact_native(flavour: str) -> None:
    """In-depth 1..16, odd out-channels, stride 2: the widened pixel pairs' zero-padded tails and zero groups."""
    path = _shallow_model(1700)
    flags = ["-DTD_EMULATE_DSP"] if flavour == "optimized-dsp" else []
    native = build_native(path, target=_target(flavour), extra_flags=flags)
    assert native.program.files["model.c"].count("td_conv2d_s8_gemm(") == 10
    assert_bitexact_with_tflm(path, random_inputs(path, 4, seed=17), optimized=True, native=native)


def test_wide_receptive_field_keeps_the_stack_small_exact() -> None:
    """A receptive field past MAX_WIDENED_BYTES (3x3x120): on DSP cores td_conv2d_s8_opt, no int16 copy of
    it on the stack; exact with the DSP algorithm emulated."""
    rng = np.random.default_rng(1701)
    c = Cases()
    in_c, out_c = 120, 5
    x = c.tensor(TensorSpec((1, 4, 4, in_c), "int8", scale=0.05, zero_point=3))
    w_scales = np.array([_scale(rng, 1e-4, 0.05) for _ in range(out_c)], np.float32)
    w = c.tensor(TensorSpec((out_c, 3, 3, in_c), "int8", data=rng.integers(-127, 128, (out_c, 3, 3, in_c)).astype(
        np.int8), scale=w_scales, axis=0))
    y = c.tensor(TensorSpec((1, 4, 4, out_c), "int8", scale=float(0.05 * w_scales.mean() * 30 * 60), zero_point=-5))
    c.ops.append(OpSpec("CONV_2D", [x, w], [y], {"padding": "SAME", "stride_w": 1, "stride_h": 1,
                                                 "fused_activation_function": "RELU"}))
    c.inputs.append(x)
    c.outputs.append(y)
    path = c.write()
    native = build_native(path, target=_target("optimized-dsp"), extra_flags=["-DTD_EMULATE_DSP"])
    body = native.program.files["model.c"].split("int model_invoke(void)")[1]
    assert "td_conv2d_s8_opt(" in body and "td_conv2d_s8_gemm(" not in body
    assert_bitexact_with_tflm(path, random_inputs(path, 3, seed=2), optimized=True, native=native)


def _heads_model(seed: int) -> Path:
    """One convolution and small FC heads: the heads run on the convolution's GEMM kernel."""
    rng = np.random.default_rng(seed)
    c = Cases()
    _conv_case(c, rng, depthwise=False)
    for _ in range(8):
        _fc_case(c, rng, small=True)
    return c.write()


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_small_fc_heads_on_the_gemm_kernel_exact(flavour: str) -> None:
    path = _heads_model(900)
    flags = ["-DTD_EMULATE_DSP"] if flavour == "optimized-dsp" else []
    native = build_native(path, target=_target(flavour, TargetFeatures.small_layer_macs), extra_flags=flags)
    body = native.program.files["model.c"].split("int model_invoke(void)")[1]
    assert "td_fully_connected" not in body and body.count("td_conv2d_s8_gemm(") == 9
    assert_bitexact_with_tflm(path, random_inputs(path, 6, seed=9), native=native)


def test_pack_pairs_layout() -> None:
    rows = np.arange(3 * 6, dtype=np.int8).reshape(3, 6)
    got = pack_pairs(rows).reshape(2, 12)
    assert list(got[0]) == [0, 1, 2, 3, 6, 7, 8, 9, 4, 5, 10, 11]
    assert list(got[1]) == [12, 13, 14, 15, 0, 0, 0, 0, 16, 17, 0, 0]


def test_pack_rows_groups_of_four() -> None:
    rows = np.arange(5 * 5, dtype=np.int8).reshape(5, 5)
    got = pack_rows(rows, 4).reshape(2, 20)
    assert list(got[0][:16]) == [0, 1, 2, 3, 5, 6, 7, 8, 10, 11, 12, 13, 15, 16, 17, 18]
    assert list(got[0][16:]) == [4, 9, 14, 19]
    assert list(got[1]) == [20, 21, 22, 23] + [0] * 12 + [24, 0, 0, 0]


def test_fast_requant_table_only_where_proven() -> None:
    mult = np.array([1 << 30, (1 << 31) - 1])
    ok = fast_requant_table(np.array([1000, (1 << 30) - 1]), mult, np.array([-1, -MAX_FAST_EXPONENT]), -128)
    e = MAX_FAST_EXPONENT
    assert ok is not None and ok.reshape(2, 3)[1].tolist() == [(1 << 31) - 1, e, (1 << (e - 1)) - (128 << e)]
    assert fast_requant_table(np.array([1, 1 << 30]), mult, np.array([-3, -3]), 0) is None  # |acc| may reach 2^30
    assert fast_requant_table(np.array([1, 1]), mult, np.array([0, -3]), 0) is None  # a left/zero shift
    assert fast_requant_table(np.array([1, 1]), mult, np.array([-3, -MAX_FAST_EXPONENT - 1]), 0) is None


_REQUANT_CHECK = r"""
#include <stdio.h>
#include "td_dot_s8.h"
static uint64_t s = 88172645463325252ull;
static uint64_t rnd(void) { s ^= s << 13; s ^= s >> 7; s ^= s << 17; return s; }
int main(void) {
  long bad = 0, i;
  for (i = 0; i < 3000000 && bad < 5; ++i) {
    const int32_t e = 1 + (int32_t)(rnd() % 22), zp = (int32_t)(rnd() % 256) - 128;
    int32_t acc = (int32_t)(rnd() % (2u << 30)) - (1 << 30) + 1;
    if (i % 3 == 0) acc = (int32_t)(rnd() % 200001) - 100000;
    const int32_t m = (int32_t)((1u << 30) + rnd() % (1u << 30)), sh = -e;
    const int32_t table[3] = {m, e, (1 << (e - 1)) + zp * (1 << e)};
    const td_requant rq = {td_requant_row_s8_fast, table, NULL, NULL};
    int8_t fast, full, ref;
    const int32_t lo = (int32_t)(rnd() % 128) - 128, hi = lo + (int32_t)(rnd() % (size_t)(128 - lo));
    td_requant_row_s8_fast(&acc, 1, &rq, 0, zp, lo, hi, &fast);
    td_requant_row_s8_fast_full(&acc, 1, &rq, 0, zp, -128, 127, &full);
    ref = (int8_t)td_clamp_i32(td_mul_by_quantized_multiplier(acc, m, sh) + zp, lo, hi);
    if (fast != ref) { printf("acc=%d m=%d e=%d zp=%d\n", acc, m, e, zp); ++bad; }
    ref = (int8_t)td_clamp_i32(td_mul_by_quantized_multiplier(acc, m, sh) + zp, -128, 127);
    if (full != ref) { printf("full acc=%d m=%d e=%d zp=%d\n", acc, m, e, zp); ++bad; }
  }
  return bad != 0;
}
"""


@pytest.mark.parametrize("flags", [[], ["-DTD_EMULATE_DSP"]])
def test_fast_requant_table_equals_gemmlowp(flags: list[str], tmp_path: Path) -> None:
    """td_requant_row_s8_fast / _fast_full (the table) vs the reference double rounding, over random accumulators below 2^30,
    multipliers, exponents 1..22, zero points and activation ranges."""
    src = tmp_path / "rq.c"
    src.write_text(_REQUANT_CHECK)
    exe = tmp_path / "rq"
    subprocess.run(["gcc", "-std=gnu99", "-O2", "-Wall", *flags, f"-I{kernels_dir()}", str(src),
                    str(kernels_dir() / "requant_row_s8.c"), "-o", str(exe)], check=True, timeout=120)
    proc = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_speed_kernels_exact_native(seed: int, flavour: str) -> None:
    path = _model(700 + seed)
    flags = ["-DTD_EMULATE_DSP"] if flavour == "optimized-dsp" else []
    # small_layer_macs=0: every layer on the optimized kernels, however small (the cases here are)
    native = build_native(path, target=_target(flavour), extra_flags=flags)
    assert_bitexact_with_tflm(path, random_inputs(path, 5, seed=seed), optimized=True, native=native)


@pytest.mark.qemu
@pytest.mark.parametrize("board_id,seed", [("qemu-m4", 0), ("qemu-m4", 1), ("qemu-m4", 2), ("qemu-m33", 3),
                                            ("qemu-m4", "heads"), ("qemu-m4", "shallow")])
def test_speed_kernels_exact_on_qemu(board_id: str, seed: int | str, tmp_path: Path) -> None:
    """The inline-assembly SMLAD / SMMULR paths (ARMv7E-M on the M4, ARMv8-M Mainline on the M33); "heads":
    small FC layers on the GEMM kernel, as the default target lowers them; "shallow": issue 17's 1..16 input
    channels, odd output channels, stride 2."""
    from tinydeploy.boards import get_board

    board = get_board(board_id)
    heads = seed == "heads"
    path = _heads_model(901) if heads else _shallow_model(1800) if seed == "shallow" else _model(800 + int(seed))
    elf = build_qemu_firmware(path, board, tmp_path / "fw", small_layer_macs=None if heads else 0)
    seed = 4 if heads else 5 if seed == "shallow" else int(seed)
    assert_exact_on_qemu(board, elf, path, random_inputs(path, 3, seed=seed))


# (in_c, out_c, k, stride, padding, batches, in_h, in_w): issue 17's MobileNet shapes, scaled down
_FUSED_SHAPES = [(8, 48, 1, 1, "VALID", 1, 5, 5), (48, 8, 1, 1, "VALID", 1, 3, 5), (3, 16, 3, 2, "SAME", 1, 9, 7),
                 (20, 6, 1, 2, "VALID", 2, 5, 4), (3, 2, 3, 1, "SAME", 1, 4, 3), (16, 4, 3, 1, "VALID", 1, 4, 5)]


def _fused_model(seed: int) -> Path:
    """Convolutions td_conv_pair_fused takes (even output channels, output range all of int8: no activation
    or ReLU from zero point -128): odd pixel counts (a lone last pixel), two batches, stride 2, padding,
    accumulators across the sign (the sign fix of the rounding), output zero points at both ends."""
    rng = np.random.default_rng(seed)
    c = Cases()
    for in_c, out_c, k, stride, padding, batches, in_h, in_w in _FUSED_SHAPES:
        act, out_zp = ("RELU", -128) if rng.random() < 0.4 else ("NONE", _zp(rng))
        in_scale, in_zp = _scale(rng), _zp(rng)
        w_scales = np.array([_scale(rng, 1e-4, 0.05) for _ in range(out_c)], np.float32)
        w_shape = (out_c, k, k, in_c)
        x = c.tensor(TensorSpec((batches, in_h, in_w, in_c), "int8", scale=in_scale, zero_point=in_zp))
        w = c.tensor(TensorSpec(w_shape, "int8", data=rng.integers(-127, 128, size=w_shape).astype(np.int8),
                                scale=w_scales, axis=0))
        b = c.tensor(TensorSpec((out_c,), "int32", data=rng.integers(-5000, 5000, out_c).astype(np.int32),
                                scale=w_scales * np.float32(in_scale), axis=0))
        out_h = compute_out_size(padding, in_h, k, stride, 1)
        out_w = compute_out_size(padding, in_w, k, stride, 1)
        out_scale = float(in_scale * float(w_scales.mean()) * np.sqrt(k * k * in_c) * 60 * np.exp(rng.uniform(-3, 0)))
        y = c.tensor(TensorSpec((batches, out_h, out_w, out_c), "int8", scale=out_scale, zero_point=out_zp))
        c.ops.append(OpSpec("CONV_2D", [x, w, b], [y], {"padding": padding, "stride_w": stride, "stride_h": stride,
                                                        "fused_activation_function": act}))
        c.inputs.append(x)
        c.outputs.append(y)
    return c.write()


def test_fused_pair_kernel_exact_native() -> None:
    """td_conv_pair_fused's records (bias twice, table entries, the last-pair flag) in its C form (DSP
    emulated): every layer takes it, exact vs TFLM."""
    path = _fused_model(1900)
    native = build_native(path, target=_target("optimized-dsp"), extra_flags=["-DTD_EMULATE_DSP"])
    model_c = native.program.files["model.c"]
    assert model_c.count("td_conv_pair_fused") == len(_FUSED_SHAPES)
    # 3 channels x 3 taps: 9-value filter rows, widened from im2col rows instead of byte by byte in place
    assert model_c.count("= td_conv_fetch_im2col") == 2
    assert_bitexact_with_tflm(path, random_inputs(path, 4, seed=19), optimized=True, native=native)


@pytest.mark.qemu
def test_fused_pair_kernel_exact_on_qemu(tmp_path: Path) -> None:
    """The assembly form on qemu-m4 (one block: multiply loop, SMMLAR requantization, loop end by the flag)."""
    from tinydeploy.boards import get_board

    board = get_board("qemu-m4")
    path = _fused_model(1901)
    elf = build_qemu_firmware(path, board, tmp_path / "fw", small_layer_macs=0)
    assert_exact_on_qemu(board, elf, path, random_inputs(path, 4, seed=20))
