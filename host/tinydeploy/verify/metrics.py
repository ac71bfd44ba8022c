"""Numbers that compare device outputs with a reference, and latency statistics.  Pure numpy."""

from __future__ import annotations

import numpy as np


def exactness(device: list[np.ndarray], reference: list[np.ndarray]) -> dict:
    """Bit-exactness against the TFLM host interpreter: arrays are batched (N, ...), one per output.

    A sample matches when every output element is equal; differences are in LSB (stored integer units)
    for integer outputs and in real units for float outputs.
    """
    n = len(device[0]) if device else 0
    if n == 0:
        return {"compared": 0, "exact_match_rate": None, "mismatches": 0, "max_abs_diff_lsb": None}
    equal = np.ones(n, dtype=bool)
    max_diff = 0.0
    for dev, ref in zip(device, reference):
        diff = np.abs(dev.astype(np.float64) - ref.astype(np.float64)).reshape(n, -1)
        equal &= (diff == 0).all(axis=1)
        max_diff = max(max_diff, float(diff.max(initial=0.0)))
    return {
        "compared": n,
        "exact_match_rate": float(equal.mean()),
        "mismatches": int((~equal).sum()),
        "mismatched_samples": [int(i) for i in np.flatnonzero(~equal)[:20]],
        "max_abs_diff_lsb": int(max_diff) if max_diff.is_integer() else max_diff,
    }


def drift(device: list[np.ndarray], reference: list[np.ndarray], labels: np.ndarray | None = None) -> dict:
    """Drift of dequantized device outputs from a reference in real units (LiteRT, the float model)."""
    n = len(device[0]) if device else 0
    if n == 0:
        return {"compared": 0}
    abs_err = np.concatenate([np.abs(d.astype(np.float64) - r.astype(np.float64)).ravel()
                              for d, r in zip(device, reference)])
    dev_flat = np.concatenate([d.reshape(n, -1).astype(np.float64) for d in device], axis=1)
    ref_flat = np.concatenate([r.reshape(n, -1).astype(np.float64) for r in reference], axis=1)
    result = {
        "compared": n,
        "max_abs_error": float(abs_err.max(initial=0.0)),
        "mean_abs_error": float(abs_err.mean()) if abs_err.size else 0.0,
        "cosine_similarity": cosine(dev_flat, ref_flat),
        "top1_agreement": float((top1(device[0]) == top1(reference[0])).mean()),
    }
    if labels is not None:
        result["accuracy"] = accuracy(reference[0], labels[:n])
    return result


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over samples of the cosine similarity of each sample's flattened outputs (1.0 for two zeros)."""
    dots = (a * b).sum(axis=1)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    both_zero = norms == 0
    sims = np.where(both_zero, 1.0, dots / np.where(both_zero, 1.0, norms))
    # One zero vector against a non-zero one: no direction in common.
    sims = np.where(both_zero & ((np.abs(a).sum(axis=1) + np.abs(b).sum(axis=1)) > 0), 0.0, sims)
    return float(sims.mean())


def top1(outputs: np.ndarray) -> np.ndarray:
    n = len(outputs)
    return outputs.reshape(n, -1).argmax(axis=1)


def accuracy(outputs: np.ndarray, labels: np.ndarray) -> float:
    labels = np.asarray(labels)
    if labels.ndim > 1:  # one-hot
        labels = labels.reshape(len(labels), -1).argmax(axis=1)
    return float((top1(outputs) == labels.astype(np.int64)).mean())


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
