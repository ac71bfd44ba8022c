"""td_depthwise_conv2d_s8_packed (issues 13 and 17): int8 DEPTHWISE_CONV_2D with depth multiplier 1, any filter
size, stride, dilation, padding and channel count, gives exactly TFLM's outputs.

Shapes drawn on purpose: 3x3 and 5x5 (MobileNet), 1x1, 7x7, odd and tall filters, strides 1 and 2, dilation,
SAME/VALID padding, channel counts with a tail (c % 4 != 0) and across several groups, edge zero points, every
fused activation, huge biases (the fused requantization steps aside for TFLM's exact one).  Natively (portable C
and the DSP algorithm emulated in C) and on qemu-m4, where the SMLAD / SMMULR / SEL assembly runs for real.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from aotutil import assert_bitexact_with_tflm, assert_exact_on_qemu, build_native, build_qemu_firmware, random_inputs
from aotutil_builder import OpSpec, TensorSpec
from test_aot_core import ACTS, Cases, _scale, _zp
from tinydeploy.aot.lowering import TargetFeatures, compute_out_size
from tinydeploy.aot.ops.depthwise_packed import RQ_WORDS, loop9_stream, pack_stream, window_offsets

KERNELS = [(3, 3), (3, 3), (5, 5), (5, 5), (1, 1), (7, 7), (2, 3), (4, 1)]
CHANNELS = [1, 3, 4, 5, 7, 8, 13, 16, 18, 33]


def _depthwise_case(c: Cases, rng: np.random.Generator, mobilenet: bool = False,
                    act_out: tuple[str, float, int] | None = None) -> None:
    """mobilenet: 3x3 and channels a multiple of 4 (the 3x3 entry's shapes); act_out: the activation, output
    scale and zero point (the input scale then set to reach that range)."""
    while True:
        k_h, k_w = (3, 3) if mobilenet else KERNELS[int(rng.integers(0, len(KERNELS)))]
        in_h, in_w = int(rng.integers(1, 13)), int(rng.integers(1, 13))
        stride_h = stride_w = int(rng.choice([1, 2]))
        if rng.random() < 0.15:
            stride_h, stride_w = 1, 2
        dil_h, dil_w = [(1, 1), (1, 1), (1, 1), (2, 2), (2, 1), (1, 3)][int(rng.integers(0, 6))]
        padding = str(rng.choice(["SAME", "SAME", "VALID"]))
        out_h = compute_out_size(padding, in_h, k_h, stride_h, dil_h)
        out_w = compute_out_size(padding, in_w, k_w, stride_w, dil_w)
        if out_h >= 1 and out_w >= 1:
            break
    ch = int(rng.choice([4, 8, 16, 20, 32] if mobilenet else CHANNELS))
    batches = 2 if rng.random() < 0.15 else 1
    w_shape = (1, k_h, k_w, ch)
    in_scale, in_zp = _scale(rng), _zp(rng)
    w_scales = np.array([_scale(rng, 1e-4, 0.05) for _ in range(ch)], np.float32)
    if act_out is not None:
        in_scale = act_out[1] / float(w_scales.mean() * np.sqrt(k_h * k_w) * 60) * float(np.exp(rng.uniform(-1, 1)))
    w_data = rng.integers(-127, 128, size=w_shape).astype(np.int8)
    if rng.random() < 0.2:
        w_data[..., 0] = 127 if rng.random() < 0.5 else -127  # a channel of extreme weights
    x = c.tensor(TensorSpec((batches, in_h, in_w, ch), "int8", scale=in_scale, zero_point=in_zp))
    w = c.tensor(TensorSpec(w_shape, "int8", data=w_data, scale=w_scales, axis=3))
    ins = [x, w]
    if rng.random() < 0.85:
        big = 2_000_000_000 if rng.random() < 0.1 else 5000  # huge biases: TFLM's exact requantization
        ins.append(c.tensor(TensorSpec((ch,), "int32", data=rng.integers(-big, big, ch).astype(np.int32),
                                       scale=w_scales * np.float32(in_scale), axis=0)))
    acc_scale = in_scale * float(w_scales.mean()) * np.sqrt(k_h * k_w) * 60
    out_scale = float(acc_scale * np.exp(rng.uniform(-3, 1.5)))
    act, out_zp = str(rng.choice(ACTS)), _zp(rng)
    if act_out is not None:
        act, out_scale, out_zp = act_out
    y = c.tensor(TensorSpec((batches, out_h, out_w, ch), "int8", scale=out_scale, zero_point=out_zp))
    c.ops.append(OpSpec("DEPTHWISE_CONV_2D", ins, [y], {
        "padding": padding, "stride_w": stride_w, "stride_h": stride_h, "depth_multiplier": 1,
        "fused_activation_function": act, "dilation_w_factor": dil_w, "dilation_h_factor": dil_h}))
    c.inputs.append(x)
    c.outputs.append(y)


# one 3x3 case per loop of the 3x3 entry (td_dwp_loop9_*): activation, output scale and zero point
LOOP9_CASES = {
    "full_relu": ("RELU6", 6 / 255, -128),  # act range all of int8, act_min = zero point
    "clamp_relu": ("RELU6", 0.1, -128),  # 6.0 is -68
    "full": ("NONE", 0.05, 5),  # negative accumulators round with the sign term
    "clamp": ("RELU_N1_TO_1", 0.01, 0),  # act_min -100 below the zero point
}


def _model(seed: int, count: int = 14, loops: bool = False) -> Path:
    """count cases, every other one of the 3x3 entry's shapes (filters of every size: the generic path for
    all, mixes_filter_sizes); loops: only 3x3 filters (the 3x3 entry), and LOOP9_CASES"""
    rng = np.random.default_rng(seed)
    c = Cases()
    for act_out in LOOP9_CASES.values() if loops else ():
        _depthwise_case(c, rng, mobilenet=True, act_out=act_out)
    for i in range(count):
        _depthwise_case(c, rng, mobilenet=loops or i % 2 == 1)
    return c.write()


def test_pack_stream_layout() -> None:
    """5 channels, 3 taps: two groups (the second zero-padded), a tap pair and an odd tap, doubled."""
    weights = np.arange(15, dtype=np.int8).reshape(3, 5) - 7  # [tap][channel]
    rq = np.arange(15, dtype=np.int64).reshape(5, 3) + 100
    s = pack_stream(weights, np.array([1, 2, 3, 4, 5]), rq, -128, 6, scale=2)
    per_group = 4 + 4 + 2 + RQ_WORDS
    assert s.shape == (2 * per_group,)
    g0 = s[:per_group].view(np.uint32)
    assert list(s[:4]) == [2, 4, 6, 8]
    w2 = weights.astype(np.int64) * 2
    for k in range(4):  # tap pair (0, 1), channel k
        assert np.int16(g0[4 + k] & 0xFFFF) == w2[0, k] and np.int16(g0[4 + k] >> 16) == w2[1, k]
    assert np.int16(g0[8] & 0xFFFF) == w2[2, 0] and np.int16(g0[8] >> 16) == w2[2, 2]
    assert np.int16(g0[9] & 0xFFFF) == w2[2, 1] and np.int16(g0[9] >> 16) == w2[2, 3]
    assert list(s[10:22]) == list(rq[:4].reshape(-1))
    assert g0[22] == 0x80808080 and g0[23] == 0x06060606
    g1 = s[per_group:]
    assert list(g1[:4]) == [10, 0, 0, 0] and list(g1[10:13]) == list(rq[4]) and not g1[13:22].any()


def test_loop9_stream_layout() -> None:
    """The 3x3 entry's stream: the last group's channel-3 shift flagged 0x100; lo/hi dropped when unclamped."""
    rng = np.random.default_rng(5)
    rq = np.stack([rng.integers(1 << 30, 1 << 31, 8), rng.integers(0, 99, 8), rng.integers(1, 20, 8)], axis=1)
    s = pack_stream(rng.integers(-127, 128, (9, 8)).astype(np.int8), np.arange(8), rq, -128, 100, scale=2)
    per_group = 4 + 16 + 2 + RQ_WORDS
    clamped, full = loop9_stream(s, True), loop9_stream(s, False)
    assert clamped.shape == s.shape and full.shape == (2 * (per_group - 2),)
    assert list(np.flatnonzero(clamped != s)) == [2 * per_group - 3]
    assert clamped[2 * per_group - 3] == rq[7, 2] | 0x100
    assert np.array_equal(full.reshape(2, -1), clamped.reshape(2, -1)[:, :per_group - 2])


def test_window_offsets() -> None:
    geo = {"k_h": 2, "k_w": 3, "dil_h": 2, "dil_w": 1, "in_w": 10, "in_c": 3}
    assert list(window_offsets(geo)) == [0, 3, 6, 60, 63, 66]


@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize("flags", [[], ["-DTD_EMULATE_DSP"]], ids=["c", "dsp-emulated"])
def test_depthwise_packed_exact_native(seed: int, flags: list[str]) -> None:
    for loops in (True, False):
        path = _model(1300 + seed, loops=loops)
        native = build_native(path, target=TargetFeatures(cpu="host", small_layer_macs=0), extra_flags=flags)
        model_c = native.program.files["model.c"]
        body = model_c.split("int model_invoke(void)")[1]
        assert body.count("td_depthwise_conv2d_s8_packed") == 14 + len(LOOP9_CASES) * loops
        for loop in LOOP9_CASES:
            assert (f"td_dwp_loop9_{loop}}}" in model_c.replace(" ", "")) == loops
        assert ("td_dwp_loop9_" in model_c) == loops  # mixed filter sizes: one depthwise path
        assert_bitexact_with_tflm(path, random_inputs(path, 4, seed=seed), optimized=True, native=native)


@pytest.mark.qemu
def test_depthwise_packed_exact_on_qemu_m4(tmp_path: Path) -> None:
    """The inline assembly (SMLAD pairs, fused SMMULR requantization, SSUB8/SEL clamp) on ARMv7E-M, the 3x3
    entry's four loops (clamped or not, with or without the rounding's sign term) over runs of interior pixels
    and single border pixels."""
    from tinydeploy.boards import get_board

    board = get_board("qemu-m4")
    for loops in (True, False):  # the 3x3 entry's loops; the generic path (filters of every size)
        path = _model(1400, count=16, loops=loops)
        elf = build_qemu_firmware(path, board, tmp_path / f"fw{loops}", small_layer_macs=0)
        model_c = (tmp_path / f"fw{loops}" / "src" / "model.c").read_text().replace(" ", "")
        assert all((f"td_dwp_loop9_{loop}}}" in model_c) == loops for loop in LOOP9_CASES)
        assert_exact_on_qemu(board, elf, path, random_inputs(path, 2, seed=3))
