"""The model zoo: small seeded Keras models and their cached .tflite conversions, for tests, demos and bench.

    from tinydeploy import zoo
    path = zoo.tflite_model("resnet8", "int8")          # cached under cache_dir()/zoo/
    x = zoo.sample_inputs("resnet8", 4, seed=0)          # float32, shape (4, 32, 32, 3), in the input range
    keras_model = zoo.keras_model("digits_cnn")          # batch size 1, ready for the converter

Models:
  digits_cnn        small CNN trained for a few epochs on scikit-learn's 8x8 digits (the demo model)
  ds_cnn            MLPerf Tiny keyword spotting DS-CNN (49x10x1 -> 12), random weights
  mobilenet_v1_025  MLPerf Tiny visual wake words MobileNetV1 alpha 0.25 (96x96x3 -> 2), random weights
  resnet8           MLPerf Tiny CIFAR-10 ResNet-8 (32x32x3 -> 10, with ADD), random weights
  fc_autoencoder    MLPerf Tiny anomaly detection autoencoder (640 -> 128x4 -> 8 -> 128x4 -> 640)
  act_mix           LOGISTIC, TANH, MUL, CONCATENATION, PAD, MEAN
  residual_add      small residual block (ADD, MAX_POOL_2D)
  mobilenet_tiny    small depthwise-separable model (RELU6)
  kws_tiny          small DS-CNN-like keyword spotter

Random-weight models get their batch-norm statistics from a pass over synthetic inputs (data-dependent
initialisation), so activations keep a healthy range through the network and outputs are not constant.

Cache safety: each conversion is keyed by a hash of the model name, mode, seed, the TF version and the
source of this module and the converter; a per-file lock serialises concurrent builders across processes
and the file appears atomically (write to a temp file, then rename).
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from tinydeploy.errors import UserError
from tinydeploy.paths import cache_dir

# Bump to invalidate every cached zoo model (the source hash covers most changes already).
ZOO_VERSION = 2

MAC_TOTALS = {  # measured on the MLPerf Tiny reference models; the zoo's copies must match exactly
    "ds_cnn": 2_656_768,
    "mobilenet_v1_025": 7_489_664,
    "resnet8": 12_501_632,
    "fc_autoencoder": 264_192,
}


@dataclass(frozen=True)
class ZooModel:
    name: str
    input_shape: tuple[int, ...]  # without the batch dimension
    input_range: tuple[float, float]  # float inputs the model expects lie in [lo, hi]
    distribution: str  # how synthetic inputs are drawn: "uniform" or "normal" (clipped to the range)
    build: Callable[[Any, int | None], Any]  # (keras, batch_size) -> uncompiled keras.Model
    description: str
    trained: bool = False  # True: weights are trained on real data (digits), else random + BN init


# --- builders ---------------------------------------------------------------------------------------
# Each takes the keras module and a batch size (1 for conversion, None for training).


def _conv_bn_relu(k: Any, x: Any, filters: int, kernel: Any, strides: Any = 1) -> Any:
    x = k.layers.Conv2D(filters, kernel, strides=strides, padding="same")(x)
    x = k.layers.BatchNormalization()(x)
    return k.layers.Activation("relu")(x)


def _dw_bn_relu(k: Any, x: Any, strides: Any = 1) -> Any:
    x = k.layers.DepthwiseConv2D(3, strides=strides, padding="same")(x)
    x = k.layers.BatchNormalization()(x)
    return k.layers.Activation("relu")(x)


def _build_digits_cnn(k: Any, batch: int | None) -> Any:
    inp = k.Input((8, 8, 1), batch_size=batch, name="digits")
    x = k.layers.Conv2D(8, 3, padding="same", activation="relu")(inp)
    x = k.layers.MaxPooling2D(2)(x)
    x = k.layers.Conv2D(16, 3, padding="same", activation="relu")(x)
    x = k.layers.Flatten()(x)
    out = k.layers.Dense(10, activation="softmax")(x)
    return k.Model(inp, out, name="digits_cnn")


def _build_ds_cnn(k: Any, batch: int | None) -> Any:
    """MLPerf Tiny KWS reference (keyword_spotting/keras_model.py, ds_cnn 'small')."""
    inp = k.Input((49, 10, 1), batch_size=batch, name="mfcc")
    x = _conv_bn_relu(k, inp, 64, (10, 4), strides=(2, 2))  # -> 25x5x64
    for _ in range(4):
        x = _dw_bn_relu(k, x)
        x = _conv_bn_relu(k, x, 64, 1)
    x = k.layers.AveragePooling2D(pool_size=(24, 5))(x)  # the reference's int(49/2) x int(10/2) window
    x = k.layers.Flatten()(x)
    out = k.layers.Dense(12, activation="softmax")(x)
    return k.Model(inp, out, name="ds_cnn")


def _build_mobilenet_v1_025(k: Any, batch: int | None) -> Any:
    """MLPerf Tiny VWW reference (visual_wake_words/vww_model.py): MobileNetV1, alpha 0.25."""
    inp = k.Input((96, 96, 3), batch_size=batch, name="image")
    x = _conv_bn_relu(k, inp, 8, 3, strides=2)  # -> 48x48x8
    # (depthwise stride, pointwise filters) for blocks 2..14
    blocks = [(1, 16), (2, 32), (1, 32), (2, 64), (1, 64), (2, 128)] + [(1, 128)] * 5 + [(2, 256), (1, 256)]
    for stride, filters in blocks:
        x = _dw_bn_relu(k, x, strides=stride)
        x = _conv_bn_relu(k, x, filters, 1)
    x = k.layers.AveragePooling2D(pool_size=(3, 3))(x)
    x = k.layers.Flatten()(x)
    out = k.layers.Dense(2, activation="softmax")(x)
    return k.Model(inp, out, name="mobilenet_v1_025")


def _build_resnet8(k: Any, batch: int | None) -> Any:
    """MLPerf Tiny image classification reference (image_classification/keras_model.py, resnet_v1_eembc)."""
    inp = k.Input((32, 32, 3), batch_size=batch, name="image")
    x = _conv_bn_relu(k, inp, 16, 3)
    for filters, stride in ((16, 1), (32, 2), (64, 2)):
        y = _conv_bn_relu(k, x, filters, 3, strides=stride)
        y = k.layers.Conv2D(filters, 3, padding="same")(y)
        y = k.layers.BatchNormalization()(y)
        if stride != 1:  # projection shortcut, as in the reference: a 1x1 strided conv without BN
            x = k.layers.Conv2D(filters, 1, strides=stride, padding="same")(x)
        x = k.layers.Add()([x, y])
        x = k.layers.Activation("relu")(x)
    x = k.layers.AveragePooling2D(pool_size=8)(x)
    x = k.layers.Flatten()(x)
    out = k.layers.Dense(10, activation="softmax")(x)
    return k.Model(inp, out, name="resnet8")


def _build_fc_autoencoder(k: Any, batch: int | None) -> Any:
    """MLPerf Tiny anomaly detection reference (anomaly_detection/keras_model.py)."""
    inp = k.Input((640,), batch_size=batch, name="spectrogram")
    x = inp
    for units in (128, 128, 128, 128, 8, 128, 128, 128, 128):
        x = k.layers.Dense(units)(x)
        x = k.layers.BatchNormalization()(x)
        x = k.layers.Activation("relu")(x)
    out = k.layers.Dense(640)(x)
    return k.Model(inp, out, name="fc_autoencoder")


def _build_act_mix(k: Any, batch: int | None) -> Any:
    inp = k.Input((12, 12, 3), batch_size=batch, name="x")
    a = k.layers.Conv2D(8, 3, padding="same")(inp)
    b = k.layers.Conv2D(8, 3, padding="same")(inp)
    gate = k.layers.Activation("sigmoid")(a)  # LOGISTIC
    value = k.layers.Activation("tanh")(b)  # TANH
    mixed = k.layers.Multiply()([gate, value])  # MUL
    x = k.layers.Concatenate()([mixed, value])  # CONCATENATION
    # PAD survives only where the converter cannot fold it: not into a 3x3 conv's SAME padding, not into
    # a MEAN (it rescales the next layer instead); a 1x1 conv has no padding to absorb it.
    x = k.layers.ZeroPadding2D(1)(x)  # PAD
    x = k.layers.Conv2D(8, 1)(x)
    x = k.layers.GlobalAveragePooling2D()(x)  # MEAN
    out = k.layers.Dense(4, activation="softmax")(x)
    return k.Model(inp, out, name="act_mix")


def _build_residual_add(k: Any, batch: int | None) -> Any:
    inp = k.Input((12, 12, 3), batch_size=batch, name="x")
    x = _conv_bn_relu(k, inp, 8, 3)
    y = _conv_bn_relu(k, x, 8, 3)
    y = k.layers.Conv2D(8, 3, padding="same")(y)
    y = k.layers.BatchNormalization()(y)
    x = k.layers.Activation("relu")(k.layers.Add()([x, y]))
    x = k.layers.MaxPooling2D(2)(x)
    x = k.layers.Flatten()(x)
    out = k.layers.Dense(5, activation="softmax")(x)
    return k.Model(inp, out, name="residual_add")


def _build_mobilenet_tiny(k: Any, batch: int | None) -> Any:
    inp = k.Input((32, 32, 3), batch_size=batch, name="image")
    x = k.layers.Conv2D(8, 3, strides=2, padding="same")(inp)
    x = k.layers.BatchNormalization()(x)
    x = k.layers.ReLU(6.0)(x)
    for stride, filters in ((1, 16), (2, 32), (1, 32)):
        x = k.layers.DepthwiseConv2D(3, strides=stride, padding="same")(x)
        x = k.layers.BatchNormalization()(x)
        x = k.layers.ReLU(6.0)(x)
        x = k.layers.Conv2D(filters, 1)(x)
        x = k.layers.BatchNormalization()(x)
        x = k.layers.ReLU(6.0)(x)
    x = k.layers.AveragePooling2D(pool_size=8)(x)
    x = k.layers.Flatten()(x)
    out = k.layers.Dense(3, activation="softmax")(x)
    return k.Model(inp, out, name="mobilenet_tiny")


def _build_kws_tiny(k: Any, batch: int | None) -> Any:
    inp = k.Input((49, 10, 1), batch_size=batch, name="mfcc")
    x = _conv_bn_relu(k, inp, 16, (10, 4), strides=(2, 2))  # -> 25x5x16
    for _ in range(2):
        x = _dw_bn_relu(k, x)
        x = _conv_bn_relu(k, x, 16, 1)
    x = k.layers.AveragePooling2D(pool_size=(25, 5))(x)
    x = k.layers.Flatten()(x)
    out = k.layers.Dense(12, activation="softmax")(x)
    return k.Model(inp, out, name="kws_tiny")


MODELS: dict[str, ZooModel] = {
    m.name: m
    for m in (
        ZooModel("digits_cnn", (8, 8, 1), (0.0, 1.0), "uniform", _build_digits_cnn,
                 "CNN for scikit-learn's 8x8 digits, trained a few epochs", trained=True),
        ZooModel("ds_cnn", (49, 10, 1), (-4.0, 4.0), "normal", _build_ds_cnn,
                 "MLPerf Tiny keyword spotting DS-CNN, random weights"),
        ZooModel("mobilenet_v1_025", (96, 96, 3), (0.0, 1.0), "uniform", _build_mobilenet_v1_025,
                 "MLPerf Tiny visual wake words MobileNetV1-0.25, random weights"),
        ZooModel("resnet8", (32, 32, 3), (0.0, 1.0), "uniform", _build_resnet8,
                 "MLPerf Tiny CIFAR-10 ResNet-8, random weights"),
        ZooModel("fc_autoencoder", (640,), (-4.0, 4.0), "normal", _build_fc_autoencoder,
                 "MLPerf Tiny anomaly detection FC autoencoder, random weights"),
        ZooModel("act_mix", (12, 12, 3), (-1.0, 1.0), "uniform", _build_act_mix,
                 "LOGISTIC, TANH, MUL, CONCATENATION, PAD, MEAN"),
        ZooModel("residual_add", (12, 12, 3), (0.0, 1.0), "uniform", _build_residual_add,
                 "small residual block with ADD and MAX_POOL_2D"),
        ZooModel("mobilenet_tiny", (32, 32, 3), (0.0, 1.0), "uniform", _build_mobilenet_tiny,
                 "small depthwise-separable model with RELU6"),
        ZooModel("kws_tiny", (49, 10, 1), (-4.0, 4.0), "normal", _build_kws_tiny,
                 "small DS-CNN-like keyword spotter"),
    )
}


def names() -> list[str]:
    return list(MODELS)


def get(name: str) -> ZooModel:
    try:
        return MODELS[name]
    except KeyError:
        raise UserError(f"no zoo model named '{name}'", hint=f"choose one of: {', '.join(MODELS)}") from None


# --- data ---------------------------------------------------------------------------------------------


def digits_dataset() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's bundled 8x8 digits, scaled to [0, 1], shape (n, 8, 8, 1), with a fixed 80/20 split:
    (x_train, y_train, x_test, y_test), 1438 + 359 samples."""
    return tuple(a.copy() for a in _digits_split())  # type: ignore[return-value]


@functools.lru_cache(maxsize=1)
def _digits_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images.astype(np.float32) / 16.0)[..., None]
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(20240601).permutation(len(x))
    x, y = x[order], y[order]
    split = int(round(len(x) * 0.8))
    return x[:split], y[:split], x[split:], y[split:]


def _synthetic(spec: ZooModel, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    lo, hi = spec.input_range
    shape = (n, *spec.input_shape)
    if spec.distribution == "normal":
        data = rng.normal(0.0, (hi - lo) / 8.0, size=shape) + (lo + hi) / 2.0
        data = np.clip(data, lo, hi)
    else:
        data = rng.uniform(lo, hi, size=shape)
    return data.astype(np.float32)


def sample_inputs(name: str, n: int, seed: int = 0) -> np.ndarray:
    """`n` float32 inputs for the model (batch along axis 0) in its input range.

    digits_cnn gets real test-set digits (so that accuracy means something); the others synthetic data.
    """
    spec = get(name)
    if spec.name == "digits_cnn":
        _, _, x_test, _ = digits_dataset()
        idx = np.random.default_rng(seed).choice(len(x_test), size=n, replace=n > len(x_test))
        return x_test[idx]
    return _synthetic(spec, n, seed + 1)  # +1: never the same stream as the calibration data


def representative_data(name: str, n: int = 64, seed: int = 1234) -> np.ndarray:
    """Calibration inputs for PTQ (float32, batch along axis 0): training digits or seeded synthetic data."""
    spec = get(name)
    if spec.name == "digits_cnn":
        x_train, _, _, _ = digits_dataset()
        idx = np.random.default_rng(seed).choice(len(x_train), size=min(n, len(x_train)), replace=False)
        return x_train[idx]
    return _synthetic(spec, n, seed)


# --- Keras models -------------------------------------------------------------------------------------

_KERAS_MEMO: dict[tuple[str, int], Any] = {}


def keras_model(name: str, seed: int = 0) -> Any:
    """The zoo model as a Keras model with batch size 1 (memoised per process; do not mutate it).

    Always loaded from the cached `.keras` file, so that every process (and every conversion) sees the very
    same weights even where training is not bit-reproducible.
    """
    key = (name, seed)
    if key not in _KERAS_MEMO:
        from tinydeploy.reference import load_keras

        _KERAS_MEMO[key] = load_keras(keras_path(name, seed))
    return _KERAS_MEMO[key]


def _make_keras(spec: ZooModel, seed: int) -> Any:
    from tinydeploy.convert.tfenv import import_keras

    k = import_keras()
    k.utils.set_random_seed(seed)
    if spec.trained:
        trainer = spec.build(k, None)
        _train_digits(k, trainer, seed)
        model = spec.build(k, 1)
        model.set_weights(trainer.get_weights())
    else:
        model = spec.build(k, 1)
        data = _synthetic(spec, 16, seed + 777)
        _init_batchnorm(k, model, data)
        _spread_logits(k, model, data)
    return model


def _train_digits(k: Any, model: Any, seed: int) -> None:
    x_train, y_train, _, _ = digits_dataset()
    model.compile(optimizer=k.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=8, batch_size=32, verbose=0, shuffle=True)


def _init_batchnorm(k: Any, model: Any, data: np.ndarray) -> None:
    """Set each BatchNormalization layer's moving mean/variance to the statistics of its input.

    Layers are visited in graph order, so every layer sees inputs already normalised by the ones before
    it; the network then behaves like a freshly trained one (unit-scale activations everywhere).
    """
    bn_layers = [layer for layer in model.layers if isinstance(layer, k.layers.BatchNormalization)]
    for layer in bn_layers:
        probe = k.Model(model.inputs, layer.input)
        batches = [np.asarray(probe(data[i : i + 1], training=False)) for i in range(len(data))]
        acts = np.concatenate(batches, axis=0)
        axes = tuple(range(acts.ndim - 1))
        gamma, beta, _, _ = layer.get_weights()
        var = acts.var(axis=axes)
        # Channels that are (almost) constant on this data (dead ReLUs) would otherwise be scaled up by
        # 1/sqrt(eps) and turn tiny input differences into outliers that no calibration covers.
        var = np.maximum(var, 0.05 * float(var.mean()) + 1e-6)
        layer.set_weights([gamma, beta, acts.mean(axis=axes), var])


def _spread_logits(k: Any, model: Any, data: np.ndarray, target_std: float = 1.5) -> None:
    """Rescale a final softmax Dense layer so its logits vary by ~`target_std` across inputs, centred at 0.

    Random weights on synthetic inputs otherwise give almost input-independent, near-uniform
    probabilities: every input would map to the same quantized output, a weak test of correctness.
    """
    last = model.layers[-1]
    if not isinstance(last, k.layers.Dense) or getattr(last.activation, "__name__", "") != "softmax":
        return
    probe = k.Model(model.inputs, last.input)
    feats = np.concatenate([np.asarray(probe(data[i : i + 1], training=False)) for i in range(len(data))])
    kernel, bias = last.get_weights()
    logits = feats @ kernel + bias
    spread = float((logits - logits.mean(axis=0)).std())
    scale = target_std / spread if spread > 0 else 1.0
    last.set_weights([kernel * scale, -(feats @ kernel).mean(axis=0) * scale])


def keras_path(name: str, seed: int = 0) -> Path:
    """The float Keras model saved as a `.keras` file in the cache (for `deploy convert` and the float
    reference)."""
    target = _cache_path(name, "keras", seed, ".keras")
    return _cached(target, lambda tmp: _make_keras(get(name), seed).save(tmp))


# --- cached conversions -------------------------------------------------------------------------------

ZOO_MODES = ("float32", "dynamic", "float16", "int8", "int16x8")


def _source_hash(spec: ZooModel) -> str:
    """Hash of the code that shapes this model's bytes: its builder, the shared builder helpers, weight
    initialisation, data, and the converter.  Editing one builder rebuilds only that model."""
    import inspect as pyinspect

    from tinydeploy.convert import tflite as converter

    parts = (spec.build, _conv_bn_relu, _dw_bn_relu, _make_keras, _train_digits, _init_batchnorm, _spread_logits,
             _synthetic, representative_data, _digits_split, converter._configure, converter._representative)
    digest = hashlib.sha256()
    for part in parts:
        digest.update(pyinspect.getsource(part).encode())
    return digest.hexdigest()


def _cache_path(name: str, mode: str, seed: int, suffix: str) -> Path:
    import importlib.metadata as md

    spec = get(name)
    try:
        tf_version = md.version("tensorflow")
    except md.PackageNotFoundError:  # pragma: no cover
        tf_version = "?"
    key = f"{ZOO_VERSION}|{name}|{mode}|{seed}|{tf_version}|{_source_hash(spec)}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return cache_dir() / "zoo" / f"{name}-{mode}-{digest}{suffix}"


def _cached(target: Path, write: Callable[[Path], None]) -> Path:
    """Create `target` once across processes: lock, re-check, write to a temp file, rename into place."""
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.with_name(target.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.exists():  # another process built it while we waited
            return target
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=target.suffix, dir=target.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            write(tmp)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
    return target


def tflite_model(name: str, mode: str = "int8", *, seed: int = 0) -> Path:
    """Path of the zoo model converted in `mode` (float32, dynamic, float16, int8, int16x8), built once and
    cached under cache_dir()/zoo/.  int8 models have int8 input and output, int16x8 ones int16."""
    from tinydeploy.convert.tflite import keras_to_tflite

    if mode not in ZOO_MODES:
        raise UserError(f"unknown zoo conversion mode '{mode}'", hint=f"use one of: {', '.join(ZOO_MODES)}")
    target = _cache_path(name, mode, seed, ".tflite")

    def convert(tmp: Path) -> None:
        calibration = [representative_data(name)] if mode in ("int8", "int16x8") else None
        tmp.write_bytes(keras_to_tflite(keras_model(name, seed), mode, calibration=calibration, what=name))

    return _cached(target, convert)
