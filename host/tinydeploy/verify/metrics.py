"""Numbers that compare device outputs with a reference or with ground truth, and latency statistics.

Pure numpy.  The comparison metrics follow ST Edge AI's `validate` report, per output and in real
(dequantized) units:

  acc   share of samples whose predicted class agrees (classifier-like outputs: argmax; binary 1-value
        outputs against labels: value >= 0.5); None where no class can be read from the output
  rmse  root mean square error          mae   mean absolute error       max_abs  largest |error|
  l2r   relative L2 error ||a - b|| / ||b|| over the whole output (all samples)
  cos   cosine similarity of the whole output (all samples flattened into one vector): on a 1-value
        regression output a per-sample cosine is only +1/-1 (the sign), the whole-output cosine is not

Exactness against the TFLM host interpreter is bit for bit for integer outputs (differences in LSB) and
within a relative tolerance for float outputs: float32 kernels compiled for another FPU, with another
summation order or fused multiply-adds, legitimately differ by a few ulp.  An element of a float output
matches when |device - tflm| <= rtol * max|tflm| over that sample's output (relative to the output's
magnitude, so a 1e-9 wobble on an element that is ~0 is not a mismatch).
"""

from __future__ import annotations

import numpy as np

DEFAULT_FLOAT_RTOL = 1e-5  # ~80 float32 ulp of the output's largest value
BINARY_THRESHOLD = 0.5  # a 1-value output against 0/1 labels: sigmoid probability >= 0.5 is class 1


def is_float(array: np.ndarray) -> bool:
    return np.issubdtype(np.asarray(array).dtype, np.floating)


# ---- exactness against TFLM ------------------------------------------------------------------------------


def differences(device: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Per element: device - reference in LSB (integer outputs), or relative to the sample's largest
    |reference| (float outputs).  Shape (N, values per sample), float64."""
    n = len(device)
    dev = device.astype(np.float64).reshape(n, -1)
    ref = reference.astype(np.float64).reshape(n, -1)
    if not is_float(device):
        return dev - ref
    finite = np.where(np.isfinite(ref), np.abs(ref), 0.0)
    scale = finite.max(axis=1, initial=0.0, keepdims=True)
    scale = np.where(scale > 0, scale, 1.0)  # an all-zero reference: absolute difference
    with np.errstate(invalid="ignore"):
        diff = (dev - ref) / scale
    return np.where(dev == ref, 0.0, np.where(np.isnan(diff), np.inf, diff))  # equal infinities match, NaN never


def exactness(device: list[np.ndarray], reference: list[np.ndarray], float_rtol: float = DEFAULT_FLOAT_RTOL) -> dict:
    """Agreement with the TFLM host interpreter: arrays are batched (N, ...), one per output.

    A sample matches when every integer output element is equal and every float output element is within
    `float_rtol` (see the module docstring).  `max_abs_diff_lsb` covers the integer outputs (None when
    there are none), `max_rel_diff` the float outputs (None when there are none).
    """
    n = len(device[0]) if device else 0
    has_int = any(not is_float(d) for d in device)
    has_float = any(is_float(d) for d in device)
    result: dict = {"compared": n, "exact_match_rate": None, "bit_exact_rate": None, "mismatches": 0,
                    "mismatched_samples": [], "max_abs_diff_lsb": None}
    if has_float:
        result.update(max_rel_diff=None, float_rtol=float_rtol)
    if n == 0:
        return result
    matched = np.ones(n, dtype=bool)
    bit_exact = np.ones(n, dtype=bool)
    max_lsb, max_rel = 0.0, 0.0
    for dev, ref in zip(device, reference):
        diff = np.abs(differences(dev, ref))
        bit_exact &= (dev.reshape(n, -1) == ref.reshape(n, -1)).all(axis=1)
        if is_float(dev):
            matched &= (diff <= float_rtol).all(axis=1)
            max_rel = max(max_rel, float(diff.max(initial=0.0)))
        else:
            matched &= (diff == 0).all(axis=1)
            max_lsb = max(max_lsb, float(diff.max(initial=0.0)))
    result.update(exact_match_rate=float(matched.mean()), bit_exact_rate=float(bit_exact.mean()),
                  mismatches=int((~matched).sum()),
                  mismatched_samples=[int(i) for i in np.flatnonzero(~matched)[:20]])
    if has_int:
        result["max_abs_diff_lsb"] = int(max_lsb)
    if has_float:
        result["max_rel_diff"] = max_rel
    return result


# ---- device against a reference, per output --------------------------------------------------------------


def classifier_like(sample_values: int) -> bool:
    """Whether an output's argmax is a class: more than one value per sample."""
    return sample_values > 1


def compare(device: np.ndarray, reference: np.ndarray) -> dict:
    """ST-validate style metrics of one output (batched, real units) against a reference output."""
    n = len(device)
    dev = device.astype(np.float64).reshape(n, -1)
    ref = reference.astype(np.float64).reshape(n, -1)
    err = dev - ref
    ref_norm = float(np.linalg.norm(ref))
    acc = float((dev.argmax(axis=1) == ref.argmax(axis=1)).mean()) if classifier_like(dev.shape[1]) else None
    return {
        "compared": n,
        "acc": acc,
        "rmse": float(np.sqrt(np.mean(err**2))) if err.size else 0.0,
        "mae": float(np.mean(np.abs(err))) if err.size else 0.0,
        "max_abs": float(np.abs(err).max(initial=0.0)),
        "l2r": float(np.linalg.norm(err) / ref_norm) if ref_norm > 0 else (0.0 if not err.any() else None),
        "cos": whole_cosine(dev, ref),
    }


def whole_cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two whole outputs, flattened over every sample (1.0 for two zero vectors,
    0.0 for a zero vector against a non-zero one)."""
    a, b = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0 or nb == 0:
        return 1.0 if na == nb else 0.0
    return float(np.clip(np.dot(a, b) / (na * nb), -1.0, 1.0))


def drift(device: list[np.ndarray], reference: list[np.ndarray]) -> dict:
    """Drift of dequantized device outputs from a reference in real units (LiteRT, the float model): the
    aggregate over every output (max/mean abs error, rmse, l2r, whole-output cosine, top-1 agreement of
    the first output) and the per-output metrics under "outputs"."""
    n = len(device[0]) if device else 0
    if n == 0:
        return {"compared": 0}
    per_output = [compare(d, r) for d, r in zip(device, reference)]
    dev_all = np.concatenate([d.reshape(n, -1).astype(np.float64) for d in device], axis=1)
    ref_all = np.concatenate([r.reshape(n, -1).astype(np.float64) for r in reference], axis=1)
    whole = compare(dev_all, ref_all)
    first = per_output[0]
    return {
        "compared": n,
        "max_abs_error": whole["max_abs"],
        "mean_abs_error": whole["mae"],
        "rmse": whole["rmse"],
        "l2r": whole["l2r"],
        "cosine_similarity": whole["cos"],
        # a 1-value output has no class to agree on: its top-1 "agreement" would always be 1
        "top1_agreement": first["acc"],
        "outputs": per_output,
    }


# ---- device (or a reference) against ground truth --------------------------------------------------------


def predicted_classes(outputs: np.ndarray) -> np.ndarray:
    """Class per sample: argmax of a multi-value output, value >= 0.5 for a 1-value (binary) output."""
    flat = outputs.astype(np.float64).reshape(len(outputs), -1)
    if flat.shape[1] == 1:
        return (flat[:, 0] >= BINARY_THRESHOLD).astype(np.int64)
    return flat.argmax(axis=1)


def classification(outputs: np.ndarray, classes: np.ndarray, n_classes: int, *, matrix: bool = True) -> dict:
    """Accuracy, per-class accuracy (recall) and the confusion matrix (rows: true class, columns: predicted)."""
    predicted = predicted_classes(outputs)
    truth = np.asarray(classes, dtype=np.int64)[: len(predicted)]
    confusion = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(confusion, (truth, predicted), 1)
    support = confusion.sum(axis=1)
    per_class = [float(confusion[c, c] / support[c]) if support[c] else None for c in range(n_classes)]
    result: dict = {"task": "classification", "compared": len(truth), "n_classes": n_classes,
                    "acc": float((predicted == truth).mean()) if len(truth) else None,
                    "per_class_accuracy": per_class, "support": [int(s) for s in support]}
    if matrix:
        result["confusion_matrix"] = confusion.tolist()
    return result


def regression(outputs: np.ndarray, targets: np.ndarray) -> dict:
    """Error against regression targets (real units): rmse, mae, max_abs, l2r, whole-output cosine, r2."""
    n = len(outputs)
    pred = outputs.astype(np.float64).reshape(n, -1)
    true = np.asarray(targets, dtype=np.float64)[:n].reshape(n, -1)
    result = {"task": "regression", **compare(pred, true)}
    result.pop("acc")
    total = float(((true - true.mean(axis=0)) ** 2).sum())
    result["r2"] = float(1.0 - ((pred - true) ** 2).sum() / total) if total > 0 else None
    return result


def accuracy(outputs: np.ndarray, labels: np.ndarray) -> float:
    """Top-1 accuracy of outputs against class indices or one-hot labels."""
    labels = np.asarray(labels)
    if labels.ndim > 1:  # one-hot
        labels = labels.reshape(len(labels), -1).argmax(axis=1)
    return float((predicted_classes(outputs) == labels.astype(np.int64)).mean())


# ---- latency ---------------------------------------------------------------------------------------------


def latency_stats(values: list[int]) -> dict:
    if not values:
        return {"min": None, "median": None, "p99": None, "max": None, "mean": None, "count": 0}
    arr = np.asarray(values, dtype=np.float64)
    return {
        "min": int(arr.min()),
        "median": float(np.median(arr)),
        "p99": float(np.percentile(arr, 99, method="higher")),
        "max": int(arr.max()),
        "mean": float(arr.mean()),
        "count": len(values),
    }
