"""Standard Keras architectures for the bench (issues 13 and 17): keras.applications with weights=None, shaped
as a user deploying to a microcontroller would pick them, converted to int8 by tinydeploy's converter.

    path = keras_archs.tflite_path("mobilenet_v2_035_96")     # built once, cached under cache_dir()/bench/

The weights are seeded, not trained; the BatchNormalization statistics are set from the synthetic data the
way the zoo does it (tinydeploy.zoo._init_batchnorm), so activations have unit scale everywhere and the int8
scales and zero points look like a trained network's rather than a random one's.  The calibration set is
seeded uniform data in the input range keras.applications expects ([0, 255] for MobileNetV3, which rescales
inside the model; [-1, 1] for MobileNetV2, which does not).
"""

from __future__ import annotations

import hashlib
import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np


@dataclass(frozen=True)
class Arch:
    name: str
    build: Callable[[Any], Any]  # keras module -> model
    input_shape: tuple[int, ...]
    input_range: tuple[float, float]
    what: str  # one line for the bench's output


def _mobilenet_v2(k: Any) -> Any:
    return k.applications.MobileNetV2(input_shape=(96, 96, 3), alpha=0.35, weights=None, classes=10)


def _mobilenet_v3_small_min(k: Any) -> Any:
    return k.applications.MobileNetV3Small(input_shape=(96, 96, 3), alpha=1.0, minimalistic=True,
                                           weights=None, classes=10)


def _mobilenet_v3_small(k: Any) -> Any:
    return k.applications.MobileNetV3Small(input_shape=(96, 96, 3), alpha=1.0, minimalistic=False,
                                           weights=None, classes=10)


ARCHS = {a.name: a for a in (
    Arch("mobilenet_v2_035_96", _mobilenet_v2, (96, 96, 3), (-1.0, 1.0),
         "keras.applications.MobileNetV2(alpha=0.35, 96x96x3, 10 classes)"),
    Arch("mobilenet_v3s_min_96", _mobilenet_v3_small_min, (96, 96, 3), (0.0, 255.0),
         "keras.applications.MobileNetV3Small(minimalistic=True, alpha=1.0, 96x96x3, 10 classes)"),
    Arch("mobilenet_v3s_96", _mobilenet_v3_small, (96, 96, 3), (0.0, 255.0),
         "keras.applications.MobileNetV3Small(alpha=1.0, 96x96x3, 10 classes: hard-swish, squeeze-excite, 5x5)"),
)}


def synthetic(arch: Arch, n: int, seed: int) -> np.ndarray:
    lo, hi = arch.input_range
    return np.random.default_rng(seed).uniform(lo, hi, (n, *arch.input_shape)).astype(np.float32)


def keras_model(arch: Arch, seed: int = 0) -> Any:
    from tinydeploy.convert.pipeline import with_batch_one
    from tinydeploy.convert.tfenv import import_keras
    from tinydeploy.zoo import _init_batchnorm

    k = import_keras()
    k.utils.set_random_seed(seed)
    model = arch.build(k)
    _init_batchnorm(k, model, synthetic(arch, 8, seed + 777))
    # Batch 1, as `deploy convert` does: MobileNetV3's Flatten otherwise converts to SHAPE/STRIDED_SLICE.
    return with_batch_one(k, model)


def tflite_path(name: str, seed: int = 0) -> Path:
    """The int8 (int8 I/O) conversion of architecture `name`, cached by the code that shapes its bytes."""
    from tinydeploy.convert.tflite import keras_to_tflite
    from tinydeploy.paths import cache_dir
    from tinydeploy.zoo import _cached, _init_batchnorm

    import tensorflow as tf

    arch = ARCHS[name]
    source = "".join(inspect.getsource(f) for f in (arch.build, keras_model, synthetic, _init_batchnorm))
    key = hashlib.sha256(f"{name}|{seed}|{tf.__version__}|{source}".encode()).hexdigest()[:12]
    target = cache_dir() / "bench" / f"{name}-int8-{key}.tflite"

    def convert(tmp: Path) -> None:
        calibration = [synthetic(arch, 32, seed + 1234)]
        tmp.write_bytes(keras_to_tflite(keras_model(arch, seed), "int8", calibration=calibration, what=name))

    return _cached(target, convert)
