"""The speed-specialised int8 kernels (issue 7) give exactly TFLM's outputs.

The shapes the fast paths select -- packed-weight conv as a matrix product (im2col with zero-point padding,
1x1 in place), depthwise with depth multiplier 1 and channels a multiple of 4 (whole 3x3 windows unrolled),
the fast requantization the generator proves safe -- are drawn on purpose here, with the edge codes and
zero points of the core tests.  Natively (portable C and the DSP algorithm emulated in C) and on qemu-m4,
where the inline-assembly SMLAD/SMMULR loops run for real.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from aotutil import assert_bitexact_with_tflm, build_native, random_inputs, tflm_outputs
from aotutil_builder import OpSpec, TensorSpec
from test_aot_core import ACTS, Cases, _scale, _zp
from tinydeploy.aot.lowering import compute_out_size
from tinydeploy.aot.ops.conv2d import pack_pairs

FLAVOURS = ["optimized", "optimized-dsp"]


def _conv_case(c: Cases, rng: np.random.Generator, depthwise: bool) -> None:
    """Shapes of the benchmark models' layers: 3x3 / 1x1 / odd filters, channels multiples of 4 (and not)."""
    while True:
        in_h, in_w = int(rng.integers(1, 12)), int(rng.integers(1, 12))
        in_c = int(rng.choice([4, 8, 12, 16, 32])) if depthwise or rng.random() < 0.7 else int(rng.integers(1, 20))
        k_h, k_w = [(3, 3), (3, 3), (1, 1), (10, 4), (2, 3)][int(rng.integers(0, 5))]
        stride_h = stride_w = int(rng.choice([1, 2]))
        dil_h, dil_w = (2, 1) if rng.random() < 0.15 else (1, 1)
        padding = str(rng.choice(["SAME", "SAME", "VALID"]))
        out_h = compute_out_size(padding, in_h, k_h, stride_h, dil_h)
        out_w = compute_out_size(padding, in_w, k_w, stride_w, dil_w)
        if out_h >= 1 and out_w >= 1:
            break
    out_c = in_c if depthwise else int(rng.integers(1, 12))
    w_shape = (1, k_h, k_w, out_c) if depthwise else (out_c, k_h, k_w, in_c)
    in_scale, in_zp = _scale(rng), _zp(rng)
    w_scales = np.array([_scale(rng, 1e-4, 0.05) for _ in range(out_c)], np.float32)
    x = c.tensor(TensorSpec((1, in_h, in_w, in_c), "int8", scale=in_scale, zero_point=in_zp))
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
    y = c.tensor(TensorSpec((1, out_h, out_w, out_c), "int8", scale=out_scale, zero_point=_zp(rng)))
    options = {"padding": padding, "stride_w": stride_w, "stride_h": stride_h,
               "fused_activation_function": str(rng.choice(ACTS)), "dilation_w_factor": dil_w,
               "dilation_h_factor": dil_h}
    if depthwise:
        options["depth_multiplier"] = 1
    c.ops.append(OpSpec("DEPTHWISE_CONV_2D" if depthwise else "CONV_2D", ins, [y], options))
    c.inputs.append(x)
    c.outputs.append(y)


def _fc_case(c: Cases, rng: np.random.Generator) -> None:
    depth, units = int(rng.choice([8, 64, 128, int(rng.integers(1, 70))])), int(rng.integers(1, 20))
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


def test_pack_pairs_layout() -> None:
    rows = np.arange(3 * 6, dtype=np.int8).reshape(3, 6)
    got = pack_pairs(rows).reshape(2, 12)
    assert list(got[0]) == [0, 1, 2, 3, 6, 7, 8, 9, 4, 5, 10, 11]
    assert list(got[1]) == [12, 13, 14, 15, 0, 0, 0, 0, 16, 17, 0, 0]


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_speed_kernels_exact_native(seed: int, flavour: str) -> None:
    path = _model(700 + seed)
    flags = ["-DTD_EMULATE_DSP"] if flavour == "optimized-dsp" else []
    native = build_native(path, optimized=True, extra_flags=flags)
    assert_bitexact_with_tflm(path, random_inputs(path, 5, seed=seed), optimized=True, native=native)


def _build_for(model_path: Path, board, out: Path) -> Path:
    from tinydeploy.flash.firmware import compile_firmware
    from tinydeploy.render.aot import AOT_BUILD_FLAGS, render_aot

    render_aot(model_path, board, out)
    src = out / "src"
    sources = (sorted(src.glob("*.c")) + sorted((src / "aot" / "kernels").glob("*.c"))
               + sorted((src / "harness").glob("*.c")))
    flags = [f for f in AOT_BUILD_FLAGS if not f.startswith("-O")]
    return compile_firmware(board, sources, [src, src / "aot" / "kernels", src / "harness", out / "include"],
                            out / "build", name="fw", extra_flags=flags, defines={"TD_TX_BUF": 2048})


@pytest.mark.qemu
@pytest.mark.parametrize("seed", range(2))
def test_speed_kernels_exact_on_qemu_m4(seed: int, tmp_path: Path) -> None:
    from tinydeploy.boards import get_board
    from tinydeploy.flash.qemu import QemuRunner
    from tinydeploy.link import DeviceLink

    board = get_board("qemu-m4")
    path = _model(800 + seed)
    elf = _build_for(path, board, tmp_path / "fw")
    samples = 3
    batches = random_inputs(path, samples, seed=seed)
    expected = tflm_outputs(path, batches)
    with QemuRunner(board, elf, timeout=300) as run, DeviceLink.open(run.url, timeout=5, invoke_timeout=120) as link:
        link.hello()
        for n in range(samples):
            result = link.infer([b[n:n + 1] for b in batches])
            for k, (got, want) in enumerate(zip(result.outputs, expected)):
                got, want = np.asarray(got).reshape(-1), want[n].reshape(-1)
                assert np.array_equal(got, want), f"output {k} of sample {n}: {int((got != want).sum())} differ"
