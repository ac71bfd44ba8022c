"""The --memory-priority ram rewrites are bit-exact with TFLM: residual skips recomputed band by band inside
the ADD (aot/recompute.py) on random blocks  S = CONV(X) (kernel 1-3, stride 1-2, SAME/VALID, dilation,
fused activations, per-channel scales, biases or none), Y = CONV(S), OUT = ADD(S, Y) or ADD(Y, S); 1x1
expansions run in bands with their depthwise (aot/bands.py) over kernels 1-4, strides 1-2, dilations and
depth multipliers; never with --memory-priority speed; the rewritten layers run their own fast kernels
(DSP GEMM, packed depthwise, Helium) band by band, exact natively and on qemu-m4 and
qemu-m55; bands grown while the arena stays; ResNet-8's and MobileNetV1's arenas in ram mode."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from aotutil import assert_bitexact_with_tflm, assert_exact_on_qemu, build_native, build_qemu_firmware, random_inputs
from aotutil_builder import OpSpec, TensorSpec, write_tflite
from tinydeploy.aot import recompute
from tinydeploy.aot.codegen import generate
from tinydeploy.boards import get_board
from tinydeploy.model.graph import load_model
from tinydeploy.aot.lowering import TargetFeatures, compute_out_size

ACTS = ["NONE", "RELU", "RELU6"]


def _scale(rng: np.random.Generator, lo: float = 1e-3, hi: float = 0.2) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _conv(rng, tensors, x: int, in_c: int, out_c: int, k: int, options: dict, in_scale: float,
          out_shape: tuple[int, ...]) -> int:
    w_scales = np.array([_scale(rng, 1e-3, 0.05) for _ in range(out_c)], np.float32)
    tensors.append(TensorSpec((out_c, k, k, in_c), "int8", data=rng.integers(-127, 128, (out_c, k, k, in_c))
                              .astype(np.int8), scale=w_scales, axis=0))
    ins = [x, len(tensors) - 1]
    if rng.random() < 0.8:
        tensors.append(TensorSpec((out_c,), "int32", data=rng.integers(-3000, 3000, out_c).astype(np.int32),
                                  scale=w_scales * np.float32(in_scale), axis=0))
        ins.append(len(tensors) - 1)
    tensors.append(TensorSpec(out_shape, "int8", scale=_scale(rng, 0.02, 0.3), zero_point=int(rng.integers(-20, 20))))
    return ins, len(tensors) - 1


def _block(rng: np.random.Generator, tensors: list[TensorSpec], ops: list[OpSpec]) -> tuple[int, int]:
    """Append one residual block; returns its (input, output) tensor indices."""
    while True:
        h, w, in_c = int(rng.integers(4, 14)), int(rng.integers(4, 14)), int(rng.integers(1, 4))
        k, s, d = int(rng.integers(1, 4)), int(rng.integers(1, 3)), int(rng.choice([1, 1, 2]))
        padding = str(rng.choice(["SAME", "VALID"]))
        oh, ow = compute_out_size(padding, h, k, s, d), compute_out_size(padding, w, k, s, d)
        if oh >= 2 and ow >= 2:
            break
    least = -(-h * w * in_c // (oh * ow)) + 2  # the skip larger than its source
    c = int(rng.integers(least, least + 12))
    in_scale = _scale(rng, 0.01, 0.1)
    tensors.append(TensorSpec((1, h, w, in_c), "int8", scale=in_scale, zero_point=int(rng.integers(-30, 30))))
    x = len(tensors) - 1
    opts = {"padding": padding, "stride_h": s, "stride_w": s, "dilation_h_factor": d, "dilation_w_factor": d,
            "fused_activation_function": str(rng.choice(ACTS))}
    ins, skip = _conv(rng, tensors, x, in_c, c, k, opts, in_scale, (1, oh, ow, c))
    ops.append(OpSpec("CONV_2D", ins, [skip], opts))
    opts2 = {"padding": "SAME", "stride_h": 1, "stride_w": 1, "fused_activation_function": "NONE"}
    ins, y = _conv(rng, tensors, skip, c, c, 3, opts2, tensors[skip].scale, (1, oh, ow, c))
    ops.append(OpSpec("CONV_2D", ins, [y], opts2))
    tensors.append(TensorSpec((1, oh, ow, c), "int8", scale=_scale(rng, 0.05, 0.4),
                              zero_point=int(rng.integers(-10, 10))))
    pair = [skip, y] if rng.random() < 0.5 else [y, skip]
    ops.append(OpSpec("ADD", pair, [len(tensors) - 1], {"fused_activation_function": str(rng.choice(ACTS))}))
    return x, len(tensors) - 1


def test_resnet8_arena_half_of_tflm() -> None:
    from bench.aot_memory import TFLM_ARENA, program_for

    program = program_for("resnet8", "cortex-m4", True, False, "ram")
    assert "skip recomputed" in program.files["model.c"]
    assert program.arena_bytes <= TFLM_ARENA["resnet8"] // 2, program.plan.table()


def _expand_block(rng: np.random.Generator, tensors: list[TensorSpec], ops: list[OpSpec]) -> tuple[int, int]:
    """X -> 1x1 CONV_2D expansion -> DEPTHWISE_CONV_2D (kernel 1-4, stride 1-2, SAME/VALID, dilation,
    depth multiplier 1-2); returns (input, output)."""
    while True:
        h, w, c = int(rng.integers(3, 16)), int(rng.integers(3, 12)), int(rng.integers(1, 6))
        k, s, d = int(rng.integers(1, 5)), int(rng.integers(1, 3)), int(rng.choice([1, 1, 2]))
        padding = str(rng.choice(["SAME", "VALID"]))
        oh, ow = compute_out_size(padding, h, k, s, d), compute_out_size(padding, w, k, s, d)
        if oh >= 1 and ow >= 1:
            break
    e, mult = int(rng.integers(c, 6 * c + 1)), int(rng.choice([1, 1, 2]))
    in_scale = _scale(rng, 0.01, 0.1)
    tensors.append(TensorSpec((1, h, w, c), "int8", scale=in_scale, zero_point=int(rng.integers(-30, 30))))
    x = len(tensors) - 1
    opts = {"padding": "SAME", "stride_h": 1, "stride_w": 1, "fused_activation_function": str(rng.choice(ACTS))}
    ins, mid = _conv(rng, tensors, x, c, e, 1, opts, in_scale, (1, h, w, e))
    ops.append(OpSpec("CONV_2D", ins, [mid], opts))
    w_scales = np.array([_scale(rng, 1e-3, 0.05) for _ in range(e * mult)], np.float32)
    tensors.append(TensorSpec((1, k, k, e * mult), "int8", data=rng.integers(-127, 128, (1, k, k, e * mult))
                              .astype(np.int8), scale=w_scales, axis=3))
    dw_ins = [mid, len(tensors) - 1]
    if rng.random() < 0.8:
        tensors.append(TensorSpec((e * mult,), "int32", data=rng.integers(-3000, 3000, e * mult).astype(np.int32),
                                  scale=w_scales * np.float32(tensors[mid].scale), axis=0))
        dw_ins.append(len(tensors) - 1)
    tensors.append(TensorSpec((1, oh, ow, e * mult), "int8", scale=_scale(rng, 0.02, 0.3),
                              zero_point=int(rng.integers(-20, 20))))
    ops.append(OpSpec("DEPTHWISE_CONV_2D", dw_ins, [len(tensors) - 1],
                      {"padding": padding, "stride_h": s, "stride_w": s, "dilation_h_factor": d,
                       "dilation_w_factor": d, "depth_multiplier": mult,
                       "fused_activation_function": str(rng.choice(ACTS))}))
    return x, len(tensors) - 1


def _rewrite_model(monkeypatch: pytest.MonkeyPatch, grow: bool = False) -> tuple[Path, list[np.ndarray]]:
    """Four residual blocks and four expansion + depthwise pairs in one model, every rewrite forced (on tiny
    blocks they do not always pay), bands of one row unless `grow`; returns (path, inputs)."""
    monkeypatch.setattr(recompute, "pays", lambda arena, best: True)
    monkeypatch.setattr(recompute, "EVERY", True)
    monkeypatch.setattr(recompute, "GROW", grow)
    rng = np.random.default_rng(1800)
    tensors: list[TensorSpec] = []
    ops: list[OpSpec] = []
    io = [(_block if k % 2 else _expand_block)(rng, tensors, ops) for k in range(8)]
    path = write_tflite(tensors, ops, [i for i, _ in io], [o for _, o in io])
    return path, random_inputs(path, 3, seed=5)


FAST_BAND_CALLS = ("td_conv2d_s8_gemm(&o)", "td_depthwise_conv2d_s8_packed(&o)")


@pytest.mark.parametrize("optimized", [False, True], ids=["reference", "optimized"])
def test_random_rewrites_exact(monkeypatch: pytest.MonkeyPatch, optimized: bool) -> None:
    """With the reference kernels and the optimized ones (the GEMM and the packed depthwise band by band;
    their DSP algorithm runs on qemu-m4 below); speed mode keeps the graph as it is."""
    path, batches = _rewrite_model(monkeypatch)
    target = TargetFeatures(cpu="host", optimized=optimized, small_layer_macs=0, memory_priority="ram")
    native = build_native(path, target=target)
    code = native.program.files["model.c"]
    assert code.count("(skip recomputed") == 4 and code.count("(with the expansion in bands") == 4
    for call in FAST_BAND_CALLS:  # the layers' own kernels in the bands (dropping them fails this)
        assert (call in code) == optimized, call
    assert_bitexact_with_tflm(path, batches, optimized=optimized, native=native)
    if not optimized:
        speed = generate(load_model(path), TargetFeatures(cpu="host", memory_priority="speed"))
        assert "--memory-priority ram" not in speed.files["model.c"]


def _band_heights(code: str) -> list[int]:
    return [int(n) for n in re.findall(r"run in bands of (\d+) rows", code)]


def test_taller_bands_keep_the_arena(monkeypatch: pytest.MonkeyPatch) -> None:
    """After the rewrites, each band grows while the arena stays: taller bands, the same arena, exact."""
    path, batches = _rewrite_model(monkeypatch)
    target = TargetFeatures(cpu="host", small_layer_macs=0, memory_priority="ram")
    short = generate(load_model(path), target)
    monkeypatch.setattr(recompute, "GROW", True)
    native = build_native(path, target=target)
    tall = native.program
    assert tall.arena_bytes <= short.arena_bytes
    heights, first = _band_heights(tall.files["model.c"]), _band_heights(short.files["model.c"])
    assert all(t >= f for t, f in zip(heights, first)) and heights != first, (first, heights)
    assert_bitexact_with_tflm(path, batches, native=native)


@pytest.mark.qemu
@pytest.mark.slow
@pytest.mark.parametrize("board_name,calls", [
    ("qemu-m4", FAST_BAND_CALLS), ("qemu-m55", ("td_conv2d_s8_mve(&o)", "td_depthwise_conv2d_s8_mve(&o)"))])
def test_random_rewrites_exact_on_qemu(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, board_name: str,
                                       calls: tuple[str, ...]) -> None:
    """The same model on the emulated DSP and Helium cores, their fast kernels run band by band (bands grown
    where the arena allows: one row and several)."""
    path, batches = _rewrite_model(monkeypatch, grow=True)
    board = get_board(board_name)
    elf = build_qemu_firmware(path, board, tmp_path / "fw", tx_buf=8192, small_layer_macs=0,
                              memory_priority="ram")
    code = (tmp_path / "fw" / "src" / "model.c").read_text()
    for call in calls:
        assert call in code, call
    assert_exact_on_qemu(board, elf, path, batches)


def test_mobilenet_ram_mode_bands() -> None:
    from bench.aot_memory import TFLM_ARENA, program_for

    program = program_for("mobilenet_v1_025", "cortex-m4", True, False, "ram")
    assert "(with the expansion in bands" in program.files["model.c"]
    assert program.arena_bytes <= TFLM_ARENA["mobilenet_v1_025"] // 3, program.plan.table()
