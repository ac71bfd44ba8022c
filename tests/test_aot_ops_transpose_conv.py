"""aot TRANSPOSE_CONV bit-exact with the TFLite Micro interpreter.

Randomized single-op cases (written byte by byte, several per model as in test_aot_ops_shape): shapes,
unequal strides and kernel sides, SAME/VALID padding, output sizes TF's and Keras' output_padding give, with
and without bias, fused NONE/RELU/RELU6, per-channel int8 filters with random scales, in float32, int8 and
int16x8; plus a Keras Conv2DTranspose autoencoder (strides 2, same and valid, bias, relu) converted to int8 by
tinydeploy.convert and run on the native board (float32 conversion of it also runs exact; left out for time).
"""

from __future__ import annotations

import numpy as np
import pytest

from aotutil import assert_bitexact_with_tflm, random_inputs
from aotutil_builder import TensorSpec
from test_aot_ops_shape import Cases, quant_for, run_cases

ACTIVATIONS = ["NONE", "RELU", "RELU6"]


def _transpose_conv(c: Cases, rng: np.random.Generator, dtype: str) -> None:
    n, in_c, out_c = int(rng.integers(1, 3)), int(rng.integers(1, 5)), int(rng.integers(1, 5))
    ih, iw = int(rng.integers(1, 6)), int(rng.integers(1, 6))
    kh, kw = int(rng.integers(1, 5)), int(rng.integers(1, 5))
    sh, sw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    padding = "SAME" if rng.random() < 0.5 else "VALID"
    extra = int(rng.integers(0, 2)) if rng.random() < 0.3 else 0  # Keras output_padding

    def out_size(size: int, k: int, s: int) -> int:
        return (size * s if padding == "SAME" else size * s + max(k - s, 0)) + min(extra, s - 1)

    oh, ow = out_size(ih, kh, sh), out_size(iw, kw, sw)
    act = ACTIVATIONS[int(rng.integers(0, len(ACTIVATIONS)))]
    shape = c.const([n, oh, ow, out_c])
    if dtype == "float32":
        w = c.tensor(TensorSpec((out_c, kh, kw, in_c), "float32",
                                data=rng.uniform(-1, 1, (out_c, kh, kw, in_c)).astype(np.float32)))
        bias = TensorSpec((out_c,), "float32", data=rng.uniform(-2, 2, out_c).astype(np.float32))
        x, y = c.activation([n, ih, iw, in_c], dtype), c.activation([n, oh, ow, out_c], dtype)
    else:
        w_scales = np.exp(rng.uniform(np.log(1e-3), np.log(0.05), out_c))
        w = c.tensor(TensorSpec((out_c, kh, kw, in_c), "int8", data=rng.integers(-127, 128, (out_c, kh, kw, in_c)),
                                scale=w_scales, zero_point=[0] * out_c, axis=0))
        qx, qy = quant_for(dtype, rng), quant_for(dtype, rng)
        code_std = {"int8": 74.0, "int16": 18900.0}[dtype]  # outputs mostly inside the range, some clipped
        terms = max(1.0, kh * kw * in_c / (sh * sw))
        spread = qx[0] * float(np.median(w_scales)) * code_std * 73.0 * np.sqrt(terms) / (code_std / 2)
        qy = (float(spread * np.exp(rng.uniform(-1, 1))), qy[1])
        bias_type = "int32" if dtype == "int8" else "int64"
        bias = TensorSpec((out_c,), bias_type, data=rng.integers(-3000, 3000, out_c), scale=qx[0] * w_scales,
                          zero_point=[0] * out_c)
        x, y = c.activation([n, ih, iw, in_c], dtype, qx), c.activation([n, oh, ow, out_c], dtype, qy)
    inputs = [shape, w, x] + ([c.tensor(bias)] if rng.random() < 0.7 else [])
    c.op("TRANSPOSE_CONV", inputs, [y], {"padding": padding, "stride_h": sh, "stride_w": sw,
                                         "fused_activation_function": act}, model_inputs=[x])


@pytest.mark.parametrize("dtype", ["int8", "int16", "float32"])
@pytest.mark.parametrize("seed", [1, 2])
def test_transpose_conv_random(dtype: str, seed: int) -> None:
    run_cases(_transpose_conv, dtype, seed=seed * 100 + len(dtype), count=16, samples=8)


SHAPE = (8, 8, 3)


def _autoencoder():
    import keras

    keras.utils.set_random_seed(0)
    inp = keras.Input(SHAPE, batch_size=1)
    code = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(inp)
    up = keras.layers.Conv2DTranspose(6, 3, strides=2, padding="same", activation="relu")(code)
    out = keras.layers.Conv2DTranspose(3, 2, strides=2, padding="valid")(up)
    return keras.Model(inp, out)


@pytest.fixture(scope="module")
def saved_autoencoder(tmp_path_factory: pytest.TempPathFactory):
    saved = tmp_path_factory.mktemp("tconv") / "autoencoder"
    _autoencoder().export(str(saved), verbose=False)
    rep = saved.parent / "rep.npy"
    np.save(rep, np.random.default_rng(0).uniform(-1, 1, (16, *SHAPE)).astype(np.float32))
    return saved, rep


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("mode", ["int8"])  # float32 and int16x8: the randomized cases (conversion is slow)
def test_keras_conv2d_transpose_converts_and_runs_exact(saved_autoencoder, mode: str) -> None:
    from tinydeploy.convert.pipeline import convert_model
    from tinydeploy.model.graph import load_model

    saved, rep = saved_autoencoder
    out = saved.parent / f"autoencoder_{mode}.tflite"
    convert_model(saved, mode, output=out, rep_data=None if mode == "float32" else str(rep))
    tconvs = [op for op in load_model(out).operators if op.opcode == "TRANSPOSE_CONV"]
    assert len(tconvs) == 2
    assert_bitexact_with_tflm(out, random_inputs(out, 4, seed=5))
