"""Residual skips recomputed band by band inside the ADD (aot/recompute.py, --memory-priority ram) are
bit-exact with TFLM: random residual blocks  S = CONV(X) (kernel 1-3, stride 1-2, SAME/VALID, dilation,
fused activations, per-channel scales, biases or none), Y = CONV(S), OUT = ADD(S, Y) or ADD(Y, S) with
random scales and zero points; the rewrite is taken where it lowers the arena and never with
--memory-priority speed; on ResNet-8 the arena drops below half of TFLM's."""

from __future__ import annotations

import numpy as np
import pytest

from aotutil import assert_bitexact_with_tflm, build_native, random_inputs
from aotutil_builder import OpSpec, TensorSpec, write_tflite
from tinydeploy.aot import recompute
from tinydeploy.aot.codegen import generate
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


def _blocks(seed: int, count: int):
    rng = np.random.default_rng(seed)
    tensors: list[TensorSpec] = []
    ops: list[OpSpec] = []
    io = [_block(rng, tensors, ops) for _ in range(count)]
    return write_tflite(tensors, ops, [i for i, _ in io], [o for _, o in io])


def test_random_residual_blocks_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ten blocks in one model, the rewrite forced on each (on tiny blocks it does not always pay)."""
    monkeypatch.setattr(recompute, "pays", lambda arena, best: True)
    seed = 1800
    path = _blocks(seed, 10)
    native = build_native(path, target=TargetFeatures(cpu="host", small_layer_macs=0, memory_priority="ram"))
    assert native.program.files["model.c"].count("(skip recomputed") == 10, native.program.plan.table()
    assert_bitexact_with_tflm(path, random_inputs(path, 3, seed=seed), native=native)
    reference = build_native(path, target=TargetFeatures(cpu="host", optimized=False, memory_priority="ram"))
    assert reference.program.files["model.c"].count("(skip recomputed") == 10
    assert_bitexact_with_tflm(path, random_inputs(path, 3, seed=seed), optimized=False, native=reference)
    speed = generate(load_model(path), TargetFeatures(cpu="host", memory_priority="speed"))
    assert "skip recomputed" not in speed.files["model.c"]


def test_resnet8_arena_half_of_tflm() -> None:
    from bench.aot_memory import TFLM_ARENA, program_for

    program = program_for("resnet8", "cortex-m4", True, False, "ram")
    assert "skip recomputed" in program.files["model.c"]
    assert program.arena_bytes <= TFLM_ARENA["resnet8"] // 2, program.plan.table()
