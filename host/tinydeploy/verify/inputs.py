"""Reading verification inputs (.npy/.npz) and labels, and putting them in the model's input dtype."""

from __future__ import annotations

from pathlib import Path

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


def load_labels(path: str | Path | None) -> np.ndarray | None:
    if path is None:
        return None
    p = Path(path)
    try:
        labels = np.load(p, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise UserError(f"{p}: cannot read labels ({err})", hint="save them with np.save('y.npy', labels)") from None
    if not isinstance(labels, np.ndarray):
        raise UserError(f"{p}: labels must be a .npy array, not an .npz archive")
    return labels


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
