"""Reading verification inputs (.npy/.npz) and labels, and putting them in the model's input dtype."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from tinydeploy.errors import UserError
from tinydeploy.model.graph import Model, Tensor
from tinydeploy.reference import quantize_input


def load_arrays(path: str | Path, model: Model) -> list[np.ndarray]:
    """One array per model input from .npy (single-input models) or .npz (keys = input tensor names,
    or arr_0, arr_1, ... / any keys in input order)."""
    p = Path(path)
    if not p.exists():
        raise UserError(f"{p}: no such file", hint="give --inputs X.npy or X.npz")
    try:
        loaded = np.load(p, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise UserError(f"{p}: not a .npy/.npz file numpy can read ({err})") from None
    names = [t.name for t in model.input_tensors]
    if isinstance(loaded, np.ndarray):
        if len(names) != 1:
            raise UserError(f"{p}: the model has {len(names)} inputs ({', '.join(names)}); a .npy holds one",
                            hint="save one array per input with np.savez(file, **{name: array})")
        return [loaded]
    with loaded:
        keys = list(loaded.files)
        if all(n in keys for n in names):
            return [loaded[n] for n in names]
        if len(keys) != len(names):
            raise UserError(f"{p}: holds {len(keys)} arrays ({', '.join(keys)}), the model has "
                            f"{len(names)} inputs ({', '.join(names)})",
                            hint="name the arrays after the model's input tensors")
        return [loaded[k] for k in keys]


def as_batch(array: np.ndarray, tensor: Tensor, where: str) -> np.ndarray:
    """(N, *shape[1:]) for a tensor of shape (1, ...); a single sample without batch axis becomes N=1."""
    sample = tuple(tensor.shape[1:]) if tensor.shape[:1] == (1,) else tuple(tensor.shape)
    if array.shape == tuple(tensor.shape):
        return array.reshape((1, *sample))
    if array.shape[1:] == sample:
        return array
    if array.shape == sample:  # one sample without its batch axis
        return array.reshape((1, *sample))
    if array.ndim >= 1 and int(np.prod(array.shape[1:], dtype=np.int64)) == int(np.prod(sample, dtype=np.int64)):
        return array.reshape((len(array), *sample))  # e.g. flattened samples
    raise UserError(f"{where}: input '{tensor.name}' takes samples of shape {sample}, got an array of shape "
                    f"{array.shape}", hint=f"save the inputs as (N, {', '.join(map(str, sample))})")


def prepare_inputs(arrays: list[np.ndarray], model: Model, where: str) -> list[np.ndarray]:
    """Batches in each input tensor's dtype: float data is quantized with the tensor's scale and zero
    point, integer data of the right dtype is used as is."""
    result = []
    for array, tensor in zip(arrays, model.input_tensors):
        batch = as_batch(np.asarray(array), tensor, where)
        dtype = tensor.numpy_dtype
        if np.issubdtype(batch.dtype, np.floating) and not np.isfinite(batch).all():
            first = [int(i) for i in np.argwhere(~np.isfinite(batch))[0]]
            raise UserError(f"{where}: input '{tensor.name}' holds NaN/infinite values (the first at sample "
                            f"{first[0]}, index {first[1:]})", hint="drop or fix those samples")
        if batch.dtype == dtype:
            result.append(batch)
        elif np.issubdtype(batch.dtype, np.floating):
            result.append(quantize_input(batch, tensor))
        else:
            raise UserError(f"{where}: input '{tensor.name}' is {tensor.dtype}, got {batch.dtype} data",
                            hint=f"give float data (it is quantized for you) or {tensor.dtype} data")
    counts = {len(b) for b in result}
    if len(counts) > 1:
        raise UserError(f"{where}: the input arrays hold different numbers of samples: {sorted(counts)}")
    return result


@dataclass(frozen=True)
class Labels:
    """Ground truth for one model output: class indices (classification) or targets (regression)."""

    output: int  # index of the model output they describe
    kind: str  # "classes" or "targets"
    values: np.ndarray  # classes: (N,) int64; targets: (N, values per sample) float64
    n_classes: int = 0  # classification: classes the output can name (2 for a binary 1-value output)
    where: str = "labels"

    @property
    def is_classification(self) -> bool:
        return self.kind == "classes"


LabelSource = str | Path | np.ndarray | Sequence[np.ndarray] | dict[str, np.ndarray] | None


def load_labels(source: LabelSource, model: Model, count: int, inputs_where: str = "the inputs") -> list[Labels]:
    """Labels for the model's outputs, checked against them: one per labelled output (empty: no labels).

    source: a .npy (or one array) for the first output; a .npz (or a dict) with arrays named after the
    output tensors, or in output order.  Integer labels are class indices (or one-hot rows); float
    labels shaped like the output are regression targets.  Every mistake is a one-line UserError.
    """
    if source is None:
        return []
    where = str(source) if isinstance(source, (str, Path)) else "labels"
    arrays = _label_arrays(source, model, where)
    return [_check_labels(np.asarray(a), model, k, count, where if len(arrays) == 1 else f"{where}[{k}]",
                          inputs_where) for k, a in arrays.items()]


def _label_arrays(source: LabelSource, model: Model, where: str) -> dict[int, np.ndarray]:
    names = [t.name for t in model.output_tensors]
    if isinstance(source, (str, Path)):
        source = _read_label_file(Path(source))
    if isinstance(source, np.ndarray):
        return {0: source}
    if isinstance(source, dict):
        if all(k in names for k in source):
            return {names.index(k): v for k, v in source.items()}
        if len(source) > len(names):
            raise UserError(f"{where}: holds {len(source)} label arrays ({', '.join(source)}), the model has "
                            f"{len(names)} outputs ({', '.join(names)})",
                            hint="name the arrays after the output tensors, or save one array with np.save")
        return dict(enumerate(source.values()))
    return dict(enumerate(np.asarray(a) for a in source))


def _read_label_file(path: Path) -> np.ndarray | dict[str, np.ndarray]:
    if not path.exists():
        raise UserError(f"{path}: no such labels file", hint="give --labels Y.npy (or Y.npz)")
    try:
        loaded = np.load(path, allow_pickle=False)
    except ValueError as err:
        if "allow_pickle" in str(err):  # an object array: strings or mixed Python values
            raise UserError(f"{path}: the labels are Python objects (strings?), not numbers",
                            hint="map class names to indices 0..C-1 (or save float targets for regression)") from None
        raise UserError(f"{path}: cannot read labels ({err})", hint="save them with np.save('y.npy', labels)") from None
    except OSError as err:
        raise UserError(f"{path}: cannot read labels ({err})", hint="save them with np.save('y.npy', labels)") from None
    if isinstance(loaded, np.ndarray):
        return loaded
    with loaded:
        return {k: loaded[k] for k in loaded.files}


def _check_labels(labels: np.ndarray, model: Model, k: int, count: int, where: str, inputs_where: str) -> Labels:
    if k >= len(model.output_tensors):
        raise UserError(f"{where}: labels for output {k}, the model has {len(model.output_tensors)} outputs")
    tensor = model.output_tensors[k]
    sample = tuple(tensor.shape[1:]) if tensor.shape[:1] == (1,) else tuple(tensor.shape)
    values = int(np.prod(sample, dtype=np.int64))
    if labels.dtype.kind in "USO":
        first = labels.ravel()[0] if labels.size else ""
        raise UserError(f"{where}: the labels are strings (e.g. {str(first)!r}), not class indices",
                        hint=f"map the class names to indices 0..{max(values, 2) - 1} in the order of output "
                             f"'{tensor.name}' (or give float targets for regression)")
    if labels.dtype.kind not in "biuf":
        raise UserError(f"{where}: labels of dtype {labels.dtype} are neither class indices nor targets")
    if labels.ndim == 0 or len(labels) != count:
        got = 1 if labels.ndim == 0 else len(labels)
        raise UserError(f"{where}: {got} labels for {count} inputs in {inputs_where}",
                        hint="give exactly one label (or target row) per input, in the same order")
    if labels.dtype.kind == "f" and not np.isfinite(labels).all():
        raise UserError(f"{where}: the labels hold NaN or infinite values", hint="drop or fix those samples")
    flat = labels.reshape(count, -1)
    if values > 1 and flat.shape[1] == values and _one_hot(flat):
        return Labels(k, "classes", flat.argmax(axis=1).astype(np.int64), values, where)
    whole = labels.dtype.kind == "f" and flat.shape[1] == 1 and bool((flat == np.round(flat)).all())
    # Float whole numbers: class indices for a multi-value output; for a 1-value (sigmoid) output only 0/1
    # (Keras users keep binary labels as float32), other values there are regression targets.
    binary = values == 1 and bool(np.isin(flat, (0, 1)).all())
    if labels.dtype.kind in "biu" or (whole and (values > 1 or binary)):
        return _class_indices(flat, k, tensor.name, values, where)
    if flat.shape[1] == values:
        return Labels(k, "targets", flat.astype(np.float64), 0, where)
    raise UserError(f"{where}: labels of shape {labels.shape} do not fit output '{tensor.name}' "
                    f"({values} value{'s' if values != 1 else ''} per sample)",
                    hint=f"give class indices (N,), one-hot (N, {values}) or float targets "
                         f"(N, {', '.join(map(str, sample)) or 1})")


def _one_hot(flat: np.ndarray) -> bool:
    return bool(np.isin(flat, (0, 1)).all() and (flat.sum(axis=1) == 1).all())


def _class_indices(flat: np.ndarray, k: int, output: str, values: int, where: str) -> Labels:
    if flat.shape[1] != 1:
        raise UserError(f"{where}: integer labels of shape {flat.shape} for output '{output}' are neither class "
                        f"indices (N,) nor one-hot rows (N, {values})",
                        hint="save float targets for a regression output")
    classes = flat[:, 0].astype(np.int64)
    n_classes = values if values > 1 else 2  # a 1-value output: a binary classifier (sigmoid)
    bad = classes[(classes < 0) | (classes >= n_classes)]
    if bad.size:
        if values == 1:
            raise UserError(f"{where}: class index {bad[0]} is out of range: output '{output}' has 1 value, a "
                            f"binary classifier takes labels 0 or 1",
                            hint="for regression targets save the labels as float (np.save('y.npy', y.astype('float32')))")
        raise UserError(f"{where}: class index {bad[0]} is out of range: output '{output}' has {values} classes "
                        f"(0..{values - 1})", hint="labels must be class indices of this model's output")
    return Labels(k, "classes", classes, n_classes, where)


def random_inputs(model_path: str | Path, n: int, seed: int = 0) -> list[np.ndarray]:
    """`n` seeded random inputs per model input, spanning the input dtype's whole range (integer models)
    or [-1, 1] (float models): the default stimulus for an exactness check when the user gives none."""
    from tinydeploy.model.graph import load_model

    rng = np.random.default_rng(seed)
    arrays = []
    for tensor in load_model(model_path).input_tensors:
        shape = (n, *tensor.shape[1:]) if tensor.shape[:1] == (1,) else (n, *tensor.shape)
        dtype = tensor.numpy_dtype
        if np.issubdtype(dtype, np.integer):
            info = np.iinfo(dtype)
            arrays.append(rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype))
        else:
            arrays.append(rng.uniform(-1.0, 1.0, size=shape).astype(dtype))
    return arrays
