"""A convolution's output written over its own input (plan/overlap.py) stays exact.

- The gap formula against a simulation: a raster-order kernel (pixel blocks, every channel of a pixel
  written while the block's windows are still being read) on one byte array never reads a clobbered input
  byte, for random shapes, strides, paddings, dilations and channel counts; a pixel less gap than the
  formula's would clobber on a tight layer.
- 18 randomized CONV_2D / DEPTHWISE_CONV_2D (pointwise GEMM, packed depthwise, im2col and reference paths,
  depth multipliers, dilations, batch 2) with every applicable overlap forced: bit-exact with TFLM on native.
- The same on qemu-m4 and qemu-m55 (the DSP and Helium kernels); the stack high-water mark the firmware
  reports stays within the build's static stack bound (flash/stack.py).
- The zoo's MobileNet (VWW class): the planner chooses overlaps by itself and the arena halves TFLM's.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import tinydeploy.plan.memory as memory
from aotutil import assert_bitexact_with_tflm, build_native, random_inputs
from test_aot_core import Cases, _conv_like_case
from tinydeploy.aot.lowering import TargetFeatures, compute_padding
from tinydeploy.plan.overlap import PIXEL_BLOCK, raster_gap


def _simulate(in_h: int, in_w: int, in_c: int, out_c: int, k: int, s: int, d: int, padding: str,
              gap: int, block: int) -> bool:
    """Run a raster kernel that writes each output byte as soon as it is computed (blocks of `block` pixels:
    the block's windows are read channel by channel while earlier channels are already written).  True when
    every input byte it reads is still the original."""
    out_h, pad_h, _ = compute_padding(padding, in_h, k, s, d)
    out_w, pad_w, _ = compute_padding(padding, in_w, k, s, d)
    size = max(out_h * out_w * out_c, gap + in_h * in_w * in_c)
    clobbered = np.zeros(size, bool)
    pixels = [(oy, ox) for oy in range(out_h) for ox in range(out_w)]
    for b0 in range(0, len(pixels), block):
        chunk = pixels[b0:b0 + block]
        for oc in range(out_c):
            for oy, ox in chunk:  # read the window of every pixel of the block for this channel ...
                for ky in range(k):
                    for kx in range(k):
                        iy, ix = oy * s - pad_h + ky * d, ox * s - pad_w + kx * d
                        if 0 <= iy < in_h and 0 <= ix < in_w:
                            lo = gap + (iy * in_w + ix) * in_c
                            if clobbered[lo:lo + in_c].any():
                                return False
            for p, _ in enumerate(chunk):  # ... then write that channel of every pixel of the block
                clobbered[(b0 + p) * out_c + oc] = True
    return True


def test_gap_formula_against_a_simulated_kernel() -> None:
    rng = np.random.default_rng(17)
    for _ in range(60):
        in_h, in_w = int(rng.integers(1, 9)), int(rng.integers(1, 9))
        in_c, out_c = int(rng.integers(1, 6)), int(rng.integers(1, 9))
        k, s, d = int(rng.integers(1, 4)), int(rng.integers(1, 3)), int(rng.integers(1, 3))
        padding = str(rng.choice(["SAME", "VALID"]))
        out_h, pad_h, _ = compute_padding(padding, in_h, k, s, d)
        out_w, pad_w, _ = compute_padding(padding, in_w, k, s, d)
        if out_h < 1 or out_w < 1:
            continue
        block = int(rng.integers(1, PIXEL_BLOCK + 1))
        gap = raster_gap(batches=1, in_h=in_h, in_w=in_w, in_pixel=in_c, out_h=out_h, out_w=out_w,
                         out_pixel=out_c, stride_h=s, stride_w=s, pad_h=pad_h, pad_w=pad_w, block=block)
        assert _simulate(in_h, in_w, in_c, out_c, k, s, d, padding, gap, block), (in_h, in_w, in_c, out_c, k, s)
    # tight: a 1x1 conv 4 -> 8 channels over 6x6 pixels, one pixel at a time: a pixel less clobbers
    gap = raster_gap(batches=1, in_h=6, in_w=6, in_pixel=4, out_h=6, out_w=6, out_pixel=8, stride_h=1,
                     stride_w=1, pad_h=0, pad_w=0, block=1)
    assert _simulate(6, 6, 4, 8, 1, 1, 1, "VALID", gap, 1)
    assert not _simulate(6, 6, 4, 8, 1, 1, 1, "VALID", gap - 8, 1)


@pytest.fixture
def every_overlap(monkeypatch: pytest.MonkeyPatch) -> None:
    """Apply every applicable overlap instead of the ones that lower the arena (each at its least gap)."""
    monkeypatch.setattr(memory, "_choose_overlaps", lambda candidates, attempt, baseline: list(candidates))


def test_random_convolutions_over_their_inputs_exact(every_overlap: None) -> None:
    seed = 1700
    rng = np.random.default_rng(seed)
    c = Cases()
    for i in range(18):
        _conv_like_case(c, rng, depthwise=i % 3 == 1, floating=False, pointwise=i % 3 == 2)
    path = c.write()
    for optimized in (True, False):
        target = TargetFeatures(cpu="host", optimized=optimized, small_layer_macs=0)
        native = build_native(path, target=target)
        assert len(native.program.plan.overlaps_used) == 18, native.program.plan.table()
        assert_bitexact_with_tflm(path, random_inputs(path, 6, seed=seed), optimized=optimized, native=native)


def test_vww_arena_half_of_tflm() -> None:
    from bench.aot_memory import TFLM_ARENA, program_for

    program = program_for("mobilenet_v1_025", "cortex-m4", True, False)
    assert program.plan.overlaps_used
    assert program.arena_bytes <= TFLM_ARENA["mobilenet_v1_025"] // 2, program.plan.table()
    peak, at = program.plan.peak()
    assert peak <= program.arena_bytes and "peak:" in program.plan.table()


@pytest.mark.qemu
@pytest.mark.slow
@pytest.mark.parametrize("board_id", ["qemu-m4", "qemu-m55"])
def test_overlaps_exact_on_qemu(board_id: str, every_overlap: None, tmp_path) -> None:
    """The DSP paths of the optimized kernels (SMLAD, packed 3x3 depthwise) and the Helium ones keep the
    raster contract too."""
    from aotutil import tflm_outputs
    from tinydeploy.boards import get_board
    from tinydeploy.flash.firmware import compile_firmware
    from tinydeploy.flash.qemu import QemuRunner
    from tinydeploy.link import DeviceLink
    from tinydeploy.render.aot import AOT_BUILD_FLAGS, render_aot

    rng = np.random.default_rng(1702)
    c = Cases()
    for i in range(9):
        _conv_like_case(c, rng, depthwise=i % 3 == 1, floating=False, pointwise=i % 3 == 2)
    path = c.write()
    board = get_board(board_id)
    out = tmp_path / "fw"
    rendered = render_aot(path, board, out, small_layer_macs=0)  # the optimized kernels on every layer
    assert len(rendered.program.plan.overlaps_used) == 9
    src = out / "src"
    sources = (sorted(src.glob("*.c")) + sorted((src / "aot" / "kernels").glob("*.c"))
               + sorted((src / "harness").glob("*.c")))
    flags = [f for f in AOT_BUILD_FLAGS if not f.startswith("-O")]
    elf = compile_firmware(board, sources, [src, src / "aot" / "kernels", src / "harness", out / "include"],
                           out / "build", name="fw", extra_flags=flags, defines={"TD_TX_BUF": 2048})
    bound = json.loads((out / "build" / "fw.size.json").read_text())["stack_bound_bytes"]
    batches = random_inputs(path, 2, seed=3)
    expected = tflm_outputs(path, batches)
    with QemuRunner(board, elf, timeout=300) as run, DeviceLink.open(run.url, timeout=5, invoke_timeout=120) as link:
        link.hello()
        for n in range(2):
            result = link.infer([b[n:n + 1] for b in batches])
            # the painted high-water mark within the static bound (None: a kernel has a variable-length frame)
            assert 0 < result.stack_bytes <= (bound or result.stack_bytes)
            for k, (got, want) in enumerate(zip(result.outputs, expected)):
                assert np.array_equal(np.asarray(got).reshape(-1), want[n].reshape(-1)), f"output {k} sample {n}"
