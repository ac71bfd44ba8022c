"""bench/trained_models.py: the synthetic tasks the MLPerf-shaped models are trained on are well formed and
learnable, and the bench scripts refuse a trained version that does not exist with a one-line error.

Full training (a minute or more per model) is left to the bench; the build path itself runs here once, on the
smallest model shortened to one epoch of 64 samples.
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


@pytest.mark.slow  # ~8 s of CPU (Keras tracing, the converter) past the TF import
def test_a_trained_model_builds_converts_and_scores(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The whole path on the smallest model, shortened (64 samples, one epoch), in a private cache: trained,
    converted to int8 with int8 I/O, cached under bench/, scored on the host TFLM interpreter."""
    monkeypatch.setenv("TINYDEPLOY_CACHE", str(tmp_path))
    monkeypatch.setitem(trained_models.TASKS, "fc_autoencoder",
                        trained_models.Task("fc_autoencoder", 0, n_train=64, epochs=1, noise=0.1))
    path = trained_models.tflite_path("fc_autoencoder")
    assert path.parent == tmp_path / "bench" and path.exists()
    from tinydeploy.model.graph import load_model

    model = load_model(path)
    assert [t.dtype for t in model.input_tensors + model.output_tensors] == ["int8", "int8"]
    score = trained_models.sanity("fc_autoencoder", n=8)
    assert set(score) == {"r2"} and np.isfinite(score["r2"])
    assert trained_models.bench_input("fc_autoencoder", path)[0].dtype == np.int8
