"""bench/trained_models.py: the synthetic tasks the MLPerf-shaped models are trained on are well formed and
learnable, and the bench scripts refuse a trained version that does not exist with a one-line error.

Training itself (a minute or more per model) is left to the bench; these checks are numpy-only and fast.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import trained_models  # noqa: E402
from tinydeploy import zoo  # noqa: E402


@pytest.mark.parametrize("name", trained_models.MODELS)
def test_task_data_has_the_model_input_shape_and_range(name: str) -> None:
    spec = zoo.get(name)
    x, y = trained_models.task_data(name, 16, "train")
    assert x.shape == (16, *spec.input_shape) and x.dtype == np.float32
    lo, hi = spec.input_range
    assert x.min() >= lo and x.max() <= hi
    assert x.std() > (hi - lo) / 40  # not collapsed to a constant
    again, _ = trained_models.task_data(name, 16, "train")
    assert np.array_equal(x, again)  # deterministic: the cache key is the code, not a run
    other, _ = trained_models.task_data(name, 16, "test")
    assert not np.array_equal(x, other)  # held-out data is a different stream
    if trained_models.TASKS[name].classes:
        assert y.dtype == np.int64 and y.min() >= 0 and y.max() < trained_models.TASKS[name].classes


@pytest.mark.parametrize("name", ["ds_cnn", "resnet8"])
def test_classification_task_is_learnable_by_the_class_means(name: str) -> None:
    """A nearest-class-mean classifier fitted on training data beats chance by far on held-out data: the
    labels carry signal a trained network can pick up (and the test split shares the train split's classes)."""
    classes = trained_models.TASKS[name].classes
    x, y = trained_models.task_data(name, 600, "train")
    xt, yt = trained_models.task_data(name, 200, "test")
    means = np.stack([x[y == c].reshape((y == c).sum(), -1).mean(axis=0) for c in range(classes)])
    flat = xt.reshape(len(xt), -1)
    predicted = ((flat[:, None, :] - means[None]) ** 2).sum(axis=2).argmin(axis=1)
    assert (predicted == yt).mean() > 3.0 / classes


def test_autoencoder_task_lies_near_a_low_dimensional_manifold() -> None:
    x, _ = trained_models.task_data("fc_autoencoder", 400, "train")
    centred = x - x.mean(axis=0)
    energy = np.linalg.svd(centred, compute_uv=False) ** 2
    assert energy[: trained_models.LATENT].sum() / energy.sum() > 0.9


def test_speed_bench_rejects_a_model_without_a_trained_version() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "aot_speed.py"), "--weights", "trained",
                             "--models", "kws_tiny"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "no trained version of kws_tiny" in result.stderr
    assert "Traceback" not in result.stderr
