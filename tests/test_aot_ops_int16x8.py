"""16x8 (int16 activations, int8 weights) aot kernels bit-exact with TFLite Micro's host interpreter.

Seeded random property tests write models byte by byte (aotutil_builder), many independent one-op cases
side by side in one model (one compile, one TFLM run): CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED over
shapes, strides, paddings, dilations, depth multipliers, fused activations, per-channel scales and int64,
int32 or absent biases; ADD with broadcasting and differing scales; SOFTMAX at several input scales and
betas.  Inputs cover the whole int16 range and its edge codes.  Then a Keras CNN (Conv2D, DepthwiseConv2D,
a functional Add branch, Dense, softmax) converted by tinydeploy's converter in int16x8 mode, run exactly.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from aotutil import assert_bitexact_with_tflm, cache_root, random_inputs
from aotutil_builder import ModelCases, OpSpec, TensorSpec
from tinydeploy.aot.lowering import compute_out_size
from tinydeploy.aot.ops.int16x8 import softmax_luts

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")

ACTS = ["NONE", "NONE", "RELU", "RELU6", "RELU_N1_TO_1"]


class Cases(ModelCases):
    """Accumulates independent one-op cases into one model."""

    def op(self, opcode: str, ins: list[int], out: int, options: dict, *graph_inputs: int) -> None:
        self.ops.append(OpSpec(opcode, ins, [out], options))
        self.inputs.extend(graph_inputs)
        self.outputs.append(out)


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _bias(c: Cases, rng: np.random.Generator, out_c: int, kind: str, scales: np.ndarray) -> list[int]:
    """[] (no bias) or one bias tensor of `kind` (int64 / int32) with values up to ~2^24 (rarely 2^34)."""
    if kind == "none":
        return []
    top = 1 << (34 if kind == "int64" and rng.random() < 0.2 else 24)
    data = rng.integers(-top, top, size=out_c, dtype=np.int64).astype(kind)
    return [c.tensor(TensorSpec((out_c,), kind, data=data, scale=list(scales), axis=0))]


def _out_scale(rng: np.random.Generator, in_scale: float, w_scale: float, taps: int) -> float:
    """An output scale putting a typical accumulator near a few thousand codes (some saturate)."""
    typical = 18918.0 * 73.0 * np.sqrt(taps)  # std of a uniform int16 times a uniform int8, summed
    return float(in_scale * w_scale * typical / rng.uniform(500, 30000))


def _conv_case(c: Cases, rng: np.random.Generator, depthwise: bool, bias_kind: str) -> None:
    while True:
        in_h, in_w = int(rng.integers(1, 10)), int(rng.integers(1, 10))
        in_c = int(rng.integers(1, 7))
        k_h, k_w = int(rng.integers(1, 5)), int(rng.integers(1, 5))
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
    w_shape = (1, k_h, k_w, out_c) if depthwise else (out_c, k_h, k_w, in_c)
    options = {"padding": padding, "stride_w": stride_w, "stride_h": stride_h,
               "fused_activation_function": str(rng.choice(ACTS)),
               "dilation_w_factor": dil_w, "dilation_h_factor": dil_h}
    if depthwise:
        options["depth_multiplier"] = mult
    in_scale = _log_uniform(rng, 1e-5, 1e-2)
    w_scales = np.array([_log_uniform(rng, 1e-3, 1e-1) for _ in range(out_c)], dtype=np.float32)
    weights = rng.integers(-127, 128, size=w_shape, dtype=np.int64).astype(np.int8)
    x = c.tensor(TensorSpec((batches, in_h, in_w, in_c), "int16", scale=in_scale))
    w = c.tensor(TensorSpec(w_shape, "int8", data=weights, scale=list(w_scales), axis=3 if depthwise else 0))
    ins = [x, w, *_bias(c, rng, out_c, bias_kind, in_scale * w_scales)]
    taps = k_h * k_w * (1 if depthwise else in_c)
    y = c.tensor(TensorSpec((batches, out_h, out_w, out_c), "int16",
                            scale=_out_scale(rng, in_scale, float(np.median(w_scales)), taps)))
    c.op("DEPTHWISE_CONV_2D" if depthwise else "CONV_2D", ins, y, options, x)


def _fc_case(c: Cases, rng: np.random.Generator, bias_kind: str) -> None:
    batches, depth, out_c = int(rng.choice([1, 1, 3])), int(rng.integers(1, 70)), int(rng.integers(1, 12))
    in_scale = _log_uniform(rng, 1e-5, 1e-2)
    per_channel = rng.random() < 0.3
    w_scales = np.array([_log_uniform(rng, 1e-3, 1e-1) for _ in range(out_c if per_channel else 1)], np.float32)
    weights = rng.integers(-127, 128, size=(out_c, depth), dtype=np.int64).astype(np.int8)
    x = c.tensor(TensorSpec((batches, depth), "int16", scale=in_scale))
    w = c.tensor(TensorSpec((out_c, depth), "int8", data=weights, scale=list(w_scales)))
    ins = [x, w, *_bias(c, rng, out_c, bias_kind, in_scale * w_scales)]
    y = c.tensor(TensorSpec((batches, out_c), "int16",
                            scale=_out_scale(rng, in_scale, float(np.median(w_scales)), depth)))
    c.op("FULLY_CONNECTED", ins, y, {"fused_activation_function": str(rng.choice(ACTS))}, x)


def _check(c: Cases, count: int = 6, seed: int = 0) -> None:
    path = c.write()
    assert_bitexact_with_tflm(path, random_inputs(path, count, seed=seed))


def test_conv2d_s16_random() -> None:
    rng = np.random.default_rng(1600)
    c = Cases()
    for kind in ["int64"] * 12 + ["int32"] * 4 + ["none"] * 4:
        _conv_case(c, rng, depthwise=False, bias_kind=kind)
    _check(c)


def test_depthwise_conv2d_s16_random() -> None:
    rng = np.random.default_rng(1700)
    c = Cases()
    for kind in ["int64"] * 14 + ["none"] * 5:
        _conv_case(c, rng, depthwise=True, bias_kind=kind)
    _check(c)


def test_fully_connected_s16_random() -> None:
    rng = np.random.default_rng(1800)
    c = Cases()
    for kind in ["int64"] * 10 + ["int32"] * 4 + ["none"] * 4:
        _fc_case(c, rng, kind)
    _check(c)


def _broadcast_shapes(rng: np.random.Generator) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    out = tuple(int(v) for v in rng.integers(1, 6, size=int(rng.integers(1, 5))))
    a, b = list(out), list(out)
    for shape in (a, b):
        for k in range(len(shape)):
            if rng.random() < 0.25:
                shape[k] = 1
    if rng.random() < 0.3:
        b = b[int(rng.integers(0, len(b))):] or [1]  # lower rank
    full_a = [max(x, y) for x, y in zip(a, [1] * (len(a) - len(b)) + b)]
    return tuple(a), tuple(b), tuple(full_a)


@pytest.mark.parametrize("opcode", ["ADD", "MUL"])
def test_add_mul_s16_random(opcode: str) -> None:
    rng = np.random.default_rng(1900 if opcode == "ADD" else 1950)
    c = Cases()
    for _ in range(12):
        sa, sb = _log_uniform(rng, 1e-5, 1e-2), _log_uniform(rng, 1e-5, 1e-2)
        a_shape, b_shape, out_shape = _broadcast_shapes(rng)
        a = c.tensor(TensorSpec(a_shape, "int16", scale=sa))
        b = c.tensor(TensorSpec(b_shape, "int16", scale=sb))
        sy = (sa + sb) * rng.uniform(0.3, 2.0) if opcode == "ADD" else sa * sb * 32768 * rng.uniform(0.05, 2.0)
        y = c.tensor(TensorSpec(out_shape, "int16", scale=sy))
        c.op(opcode, [a, b], y, {"fused_activation_function": str(rng.choice(ACTS))}, a, b)
    _check(c, count=8)


def test_softmax_s16_random() -> None:
    rng = np.random.default_rng(2000)
    c = Cases()
    for scale in (1e-5, 1e-4, 3e-4, 1e-3, 1e-2, 0.1):
        for beta in (1.0, float(rng.uniform(0.1, 3.0))):
            shape = (1, int(rng.integers(1, 4)), int(rng.integers(1, 40)))
            x = c.tensor(TensorSpec(shape, "int16", scale=scale * rng.uniform(0.8, 1.25)))
            y = c.tensor(TensorSpec(shape, "int16", scale=1 / 32768))
            c.op("SOFTMAX", [x], y, {"beta": beta}, x)
    _check(c, count=10)


LUT_PROGRAM = r"""
#include <math.h>
#include <stdio.h>
static float one_over(float v) { return 1.0f / (1.0f + v); }
static void gen(float (*f)(float), float lo, float hi) {
  const float step = (hi - lo) / 512, half = step / 2, scaling = 65536.0f / 2.0f;
  for (int i = 0; i < 512; i++) {
    float val = f(lo + i * step), mid = f(lo + i * step + half), next = f(lo + (i + 1) * step);
    float sample = roundf(val * scaling);
    float interp = roundf((next * scaling + roundf(val * scaling)) / 2);
    float bias = roundf((interp - roundf(mid * scaling)) / 2);
    float v = fminf(fmaxf(sample - bias, -32768.0f), 32767.0f);
    printf("%d\n", (int)v);
  }
  printf("%d\n", (int)fminf(fmaxf(roundf(f(hi) * scaling), -32768.0f), 32767.0f));
}
int main(void) { gen(expf, -10.0f, 0.0f); gen(one_over, 0.0f, 1.0f); return 0; }
"""


def test_softmax_luts_match_float32_libm(tmp_path: Path) -> None:
    """The generator's tables equal the same float32 recipe run on the host libm's expf (TFLM's build)."""
    src = tmp_path / "lut.c"
    src.write_text(LUT_PROGRAM)
    exe = tmp_path / "lut"
    subprocess.run(["gcc", "-std=c99", "-O0", "-ffp-contract=off", str(src), "-o", str(exe), "-lm"], check=True)
    values = np.array(subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split(), int)
    exp_lut, recip_lut = softmax_luts()
    assert np.array_equal(values[:513], exp_lut)
    assert np.array_equal(values[513:], recip_lut)


def test_pools_s16_random() -> None:
    rng = np.random.default_rng(2100)
    c = Cases()
    for k in range(12):
        while True:
            in_h, in_w, ch = int(rng.integers(1, 9)), int(rng.integers(1, 9)), int(rng.integers(1, 5))
            fh, fw, sh, sw = (int(v) for v in rng.integers(1, 4, size=4))
            padding = str(rng.choice(["SAME", "VALID"]))
            oh, ow = compute_out_size(padding, in_h, fh, sh), compute_out_size(padding, in_w, fw, sw)
            if oh >= 1 and ow >= 1:
                break
        scale = _log_uniform(rng, 1e-5, 1e-2)
        x = c.tensor(TensorSpec((1, in_h, in_w, ch), "int16", scale=scale))
        y = c.tensor(TensorSpec((1, oh, ow, ch), "int16", scale=scale))
        c.op("AVERAGE_POOL_2D" if k % 2 else "MAX_POOL_2D", [x], y,
             {"padding": padding, "stride_h": sh, "stride_w": sw, "filter_height": fh, "filter_width": fw,
              "fused_activation_function": str(rng.choice(ACTS))}, x)
    _check(c, count=8)


def _keras_cnn():
    """A small image classifier as a user writes it: Conv2D, DepthwiseConv2D, a residual Add, pooling, Dense,
    softmax."""
    import keras

    keras.utils.set_random_seed(0)
    inp = keras.Input((12, 12, 3), batch_size=1)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inp)
    y = keras.layers.DepthwiseConv2D(3, padding="same")(x)
    x = keras.layers.Add()([x, y])
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Conv2D(12, 3, strides=2, padding="valid", dilation_rate=1)(x)
    x = keras.layers.AveragePooling2D(2)(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(16, activation="relu")(x)
    return keras.Model(inp, keras.layers.Dense(5, activation="softmax")(x))


def test_keras_cnn_int16x8_runs_exact_on_native(tmp_path: Path) -> None:
    import json

    from tinydeploy.cli import main
    from tinydeploy.convert.pipeline import convert_model

    model = _keras_cnn()
    source = tmp_path / "cnn.keras"
    model.save(source)
    rep = tmp_path / "rep.npy"
    np.save(rep, np.random.default_rng(0).uniform(-1, 1, (24, 12, 12, 3)).astype(np.float32))
    tflite = tmp_path / "cnn_int16x8.tflite"
    convert_model(source, "int16x8", output=tflite, rep_data=str(rep))
    report = tmp_path / "report.json"
    assert main(["run", str(tflite), "--board", "native", "-n", "10", "--no-litert", "--report", str(report)]) == 0
    data = json.loads(report.read_text())
    assert data["runtime"] == "aot" and data["n_inputs"] == 10
    assert data["fidelity"]["tflm"]["exact_match_rate"] == 1.0
    assert data["fidelity"]["tflm"]["max_abs_diff_lsb"] == 0


def test_requantize_s16_random() -> None:
    rng = np.random.default_rng(2200)
    c = Cases()
    for _ in range(8):
        shape = (1, int(rng.integers(1, 20)))
        x = c.tensor(TensorSpec(shape, "int16", scale=_log_uniform(rng, 1e-5, 1e-2)))
        y = c.tensor(TensorSpec(shape, "int16", scale=_log_uniform(rng, 1e-5, 1e-2)))
        c.op("QUANTIZE", [x], y, {}, x)
    _check(c, count=8)


def test_leaky_relu_s16_random() -> None:
    rng = np.random.default_rng(2300)
    c = Cases()
    for alpha in (0.2, 0.01, 0.5, -0.3, 1.7):
        shape = (1, int(rng.integers(1, 30)))
        sx = _log_uniform(rng, 1e-5, 1e-2)
        x = c.tensor(TensorSpec(shape, "int16", scale=sx))
        y = c.tensor(TensorSpec(shape, "int16", scale=sx * rng.uniform(0.5, 2.0)))
        c.op("LEAKY_RELU", [x], y, {"alpha": alpha}, x)
    _check(c, count=8)
