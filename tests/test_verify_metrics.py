"""The numbers of the verify report and the labels they are computed from, on the host (no device):
ST-validate style metrics per output, whole-output cosine, float tolerance, classification vs regression
labels and the one-line errors for labels that cannot be right."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from tinydeploy.errors import UserError
from tinydeploy.model.graph import load_model
from tinydeploy.verify import metrics
from tinydeploy.verify.inputs import load_labels

sys.path.insert(0, str(Path(__file__).parent))
from aotutil_builder import OpSpec, TensorSpec, write_tflite  # noqa: E402


def fc_model(n_in: int, n_out: int, dtype: str = "int8") -> Path:
    """A one-layer FULLY_CONNECTED model: n_out=1 is a regression head, n_out>1 a classifier."""
    rng = np.random.default_rng(n_in * 100 + n_out)
    if dtype == "float32":
        tensors = [TensorSpec((1, n_in), "float32", name="x"),
                   TensorSpec((n_out, n_in), "float32", data=rng.normal(0, 0.5, (n_out, n_in)), name="w"),
                   TensorSpec((n_out,), "float32", data=rng.normal(0, 0.1, n_out), name="b"),
                   TensorSpec((1, n_out), "float32", name="y")]
    else:
        tensors = [TensorSpec((1, n_in), "int8", scale=0.02, zero_point=0, name="x"),
                   TensorSpec((n_out, n_in), "int8", data=rng.integers(-100, 100, (n_out, n_in)), scale=0.01, name="w"),
                   TensorSpec((n_out,), "int32", data=rng.integers(-500, 500, n_out), scale=0.0002, name="b"),
                   TensorSpec((1, n_out), "int8", scale=0.05, zero_point=-10, name="y")]
    return write_tflite(tensors, [OpSpec("FULLY_CONNECTED", [0, 1, 2], [3])], [0], [3])


# ---- metrics ---------------------------------------------------------------------------------------------


def test_whole_output_cosine_on_a_one_value_regression_output():
    rng = np.random.default_rng(0)
    truth = rng.normal(0, 1, (200, 1))
    good, noisy = truth + rng.normal(0, 0.01, truth.shape), truth + rng.normal(0, 1.0, truth.shape)
    # Per sample, a 1-value cosine is the sign agreement: both would score ~1.
    assert metrics.compare(good, truth)["cos"] > 0.999
    assert metrics.compare(noisy, truth)["cos"] < 0.8
    m = metrics.compare(good, truth)
    assert m["acc"] is None  # no class to read off a 1-value output
    assert m["rmse"] == pytest.approx(np.sqrt(np.mean((good - truth) ** 2)))
    assert m["mae"] == pytest.approx(np.mean(np.abs(good - truth)))
    assert m["l2r"] == pytest.approx(np.linalg.norm(good - truth) / np.linalg.norm(truth))


def test_compare_reads_classes_from_multi_value_outputs():
    ref = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    dev = np.array([[0.2, 0.8], [0.7, 0.3], [0.6, 0.4], [0.5, 0.5]])
    m = metrics.compare(dev, ref)
    assert m["acc"] == 0.75 and m["max_abs"] == pytest.approx(0.3)


def test_classification_confusion_matrix_and_per_class_accuracy():
    outputs = np.eye(3)[[0, 1, 2, 2, 1, 0]]  # predicted classes 0 1 2 2 1 0
    truth = np.array([0, 1, 2, 1, 1, 2])
    result = metrics.classification(outputs, truth, 3)
    assert result["acc"] == pytest.approx(4 / 6)
    assert result["confusion_matrix"] == [[1, 0, 0], [0, 2, 1], [1, 0, 1]]
    assert result["per_class_accuracy"] == [1.0, pytest.approx(2 / 3), 0.5]
    # a 1-value (sigmoid) output against 0/1 labels: >= 0.5 is class 1
    binary = metrics.classification(np.array([[0.9], [0.2], [0.6]]), np.array([1, 0, 0]), 2)
    assert binary["confusion_matrix"] == [[1, 1], [0, 1]]


def test_regression_against_targets():
    truth = np.linspace(-2, 2, 50).reshape(50, 1)
    result = metrics.regression(truth + 0.1, truth)
    assert result["rmse"] == pytest.approx(0.1) and result["mae"] == pytest.approx(0.1)
    assert 0.99 < result["r2"] < 1.0 and "acc" not in result


def test_float_outputs_match_within_a_relative_tolerance_and_never_in_lsb():
    ref = np.array([[1.0, -2.0, 1e-9], [0.5, 0.25, 0.0]], dtype=np.float32)
    wobble = ref * (1 + 3e-7)  # a few ulp: another FPU, another summation order
    wobble[0, 2] = -1e-9  # an element ~0 flipping sign: harmless next to the output's magnitude
    result = metrics.exactness([wobble], [ref])
    assert result["exact_match_rate"] == 1.0 and result["bit_exact_rate"] == 0.0
    assert result["max_abs_diff_lsb"] is None and 0 < result["max_rel_diff"] < 1e-6
    off = ref.copy()
    off[1, 0] = 0.6  # a real error: 20 % of the sample's largest value
    result = metrics.exactness([off], [ref])
    assert result["exact_match_rate"] == 0.5 and result["mismatched_samples"] == [1]
    special = np.array([[np.inf, 1.0, np.nan]], np.float32)
    assert metrics.exactness([special[:, :2]], [special[:, :2]])["exact_match_rate"] == 1.0  # inf == inf
    assert metrics.exactness([special], [special])["exact_match_rate"] == 0.0  # a NaN output is never right
    # integer outputs stay bit exact, in LSB
    ints = metrics.exactness([np.array([[3, 4]], np.int8)], [np.array([[3, 5]], np.int8)])
    assert ints["max_abs_diff_lsb"] == 1 and "max_rel_diff" not in ints and ints["exact_match_rate"] == 0.0


# ---- labels ----------------------------------------------------------------------------------------------


def test_labels_are_classes_or_targets_by_what_they_hold(tmp_path):
    classifier, regressor = load_model(fc_model(16, 4)), load_model(fc_model(8, 1))
    classes = load_labels(np.array([0, 3, 2, 1]), classifier, 4)[0]
    assert classes.is_classification and classes.n_classes == 4 and classes.values.tolist() == [0, 3, 2, 1]
    one_hot = load_labels(np.eye(4, dtype=np.float32)[[2, 1]], classifier, 2)[0]
    assert one_hot.is_classification and one_hot.values.tolist() == [2, 1]
    as_float = load_labels(np.array([1.0, 2.0]), classifier, 2)[0]  # class indices saved as float (pandas)
    assert as_float.is_classification
    targets = load_labels(np.array([0.5, -1.25, 3.0], np.float32), regressor, 3)[0]
    assert targets.kind == "targets" and targets.values.shape == (3, 1)
    binary = load_labels(np.array([0, 1, 1]), regressor, 3)[0]  # a sigmoid head with 0/1 labels
    assert binary.is_classification and binary.n_classes == 2
    assert load_labels(np.array([0.0, 1.0, 1.0], np.float32), regressor, 3)[0].is_classification  # Keras keeps them float
    assert load_labels(np.array([0.0, 2.0, 1.0], np.float32), regressor, 3)[0].kind == "targets"  # counts: regression
    np.save(tmp_path / "y.npy", np.array([0.1, 0.2]))
    assert load_labels(str(tmp_path / "y.npy"), regressor, 2)[0].kind == "targets"


@pytest.mark.parametrize(("labels", "count", "message"), [
    (np.array(["cat", "dog"]), 2, "the labels are strings (e.g. 'cat')"),
    (np.array([0, 4]), 2, "class index 4 is out of range: output 'y' has 4 classes (0..3)"),
    (np.array([-1, 2]), 2, "class index -1 is out of range"),
    (np.array([0, 1, 2]), 5, "3 labels for 5 inputs in x.npy"),
    (np.array([0.5, np.nan]), 2, "NaN or infinite"),
    (np.array([0.5, 1.5]), 2, "labels of shape (2,) do not fit output 'y' (4 values per sample)"),
    (np.zeros((2, 3), np.int64), 2, "neither class indices (N,) nor one-hot rows (N, 4)"),
])
def test_bad_labels_are_one_line_errors(labels, count, message):
    model = load_model(fc_model(16, 4))
    with pytest.raises(UserError) as err:
        load_labels(labels, model, count, "x.npy")
    assert message in str(err.value) and "\n" not in err.value.message


def test_class_labels_on_a_one_value_output_say_how_to_give_targets():
    with pytest.raises(UserError, match="binary classifier takes labels 0 or 1") as err:
        load_labels(np.array([0, 3]), load_model(fc_model(8, 1)), 2)
    assert "as float" in (err.value.hint or "")


def test_label_files_that_cannot_be_labels(tmp_path):
    model = load_model(fc_model(16, 4))
    np.save(tmp_path / "obj.npy", np.array(["a", 1], dtype=object), allow_pickle=True)
    with pytest.raises(UserError, match="Python objects"):
        load_labels(str(tmp_path / "obj.npy"), model, 2)
    with pytest.raises(UserError, match="no such labels file"):
        load_labels(str(tmp_path / "missing.npy"), model, 2)
    np.savez(tmp_path / "two.npz", a=np.array([0, 1]), b=np.array([1, 0]))
    with pytest.raises(UserError, match="holds 2 label arrays"):
        load_labels(str(tmp_path / "two.npz"), model, 2)
    np.savez(tmp_path / "named.npz", y=np.array([0, 1]))
    assert load_labels(str(tmp_path / "named.npz"), model, 2)[0].values.tolist() == [0, 1]
