"""Loading calibration, evaluation and training data from what users have lying around.

Sources (`spec` strings):
  data.npy              one array, samples along axis 0
  data.npz              keys named after the model's inputs, or x / inputs / data / arr_0 (labels: y / labels)
  images/               a directory of .png/.jpg/.bmp/.gif images: resized to the input, scaled to [0, 1]
  data.csv              one sample per row (flattened), a header row is skipped
  zoo:NAME              the calibration data of a tinydeploy.zoo model
  module:function       a Python callable (module path or file.py) returning an array, a list of arrays (one
                        per input) or an iterable of samples

Everything comes back as one float32 array per model input, checked against the input's shape: a mismatch is
a UserError that says what was expected and what was found.
"""

from __future__ import annotations

import csv
import importlib
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from tinydeploy.errors import UserError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
X_KEYS = ("x", "inputs", "input", "data", "x_train", "x_test", "features", "arr_0")
Y_KEYS = ("y", "labels", "label", "targets", "y_train", "y_test", "arr_1")


@dataclass(frozen=True)
class InputSpec:
    name: str
    shape: tuple[int, ...]  # one sample, without the batch dimension
    dtype: str = "float32"


def _fmt(shape: Sequence[int]) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


# --- readers ------------------------------------------------------------------------------------------


def _load_npy(path: Path) -> list[np.ndarray]:
    try:
        return [np.load(path, allow_pickle=False)]
    except (ValueError, OSError, EOFError) as err:
        raise UserError(f"{path}: cannot read as .npy ({err})") from None


def _open_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (ValueError, OSError, EOFError) as err:
        raise UserError(f"{path}: cannot read as .npz ({err})") from None
    except Exception as err:  # zipfile.BadZipFile and friends for truncated archives
        raise UserError(f"{path}: cannot read as .npz ({type(err).__name__}: {err})") from None


def _pick(arrays: dict[str, np.ndarray], keys: Sequence[str]) -> str | None:
    for key in keys:
        if key in arrays:
            return key
    return None


def _load_npz_inputs(path: Path, specs: Sequence[InputSpec]) -> list[np.ndarray]:
    arrays = _open_npz(path)
    if all(s.name in arrays for s in specs):
        return [arrays[s.name] for s in specs]
    if len(specs) == 1:
        key = _pick(arrays, X_KEYS)
        if key is None and len(arrays) == 1:
            key = next(iter(arrays))
        if key is not None:
            return [arrays[key]]
    raise UserError(f"{path}: no input array found among keys {sorted(arrays)}",
                    hint=f"name it 'x' (or after the model's input{'s' if len(specs) > 1 else ''}: "
                         f"{', '.join(s.name for s in specs)})")


def _load_csv(path: Path) -> list[np.ndarray]:
    rows: list[list[float]] = []
    try:
        with path.open(newline="") as f:
            for lineno, row in enumerate(csv.reader(f), start=1):
                if not row or all(not cell.strip() for cell in row):
                    continue
                try:
                    rows.append([float(cell) for cell in row])
                except ValueError:
                    if lineno == 1 and not rows:  # a header
                        continue
                    raise UserError(f"{path}:{lineno}: not a number in row {row[:4]}...") from None
    except OSError as err:
        raise UserError(f"{path}: cannot read ({err.strerror})") from None
    widths = {len(r) for r in rows}
    if len(widths) > 1:
        raise UserError(f"{path}: rows have different numbers of columns: {sorted(widths)}")
    if not rows:
        raise UserError(f"{path}: no data rows")
    return [np.asarray(rows, dtype=np.float32)]


def _load_images(path: Path, spec: InputSpec) -> list[np.ndarray]:
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise UserError(f"{path}: no images ({', '.join(IMAGE_SUFFIXES)}) in this directory")
    if len(spec.shape) != 3:
        raise UserError(f"{path}: a directory of images needs an image input (H, W, C); "
                        f"input '{spec.name}' has shape {_fmt(spec.shape)}")
    height, width, channels = spec.shape
    if channels not in (1, 3):
        raise UserError(f"{path}: images can feed 1 or 3 channels; input '{spec.name}' has {channels}")
    from tinydeploy.convert.tfenv import import_tf

    tf = import_tf()
    images = []
    for file in files:
        try:
            img = tf.io.decode_image(file.read_bytes(), channels=channels, expand_animations=False)
        except Exception as err:  # tf raises InvalidArgumentError for corrupt images
            raise UserError(f"{file}: cannot decode image ({' '.join(str(err).split())[:120]})") from None
        img = tf.image.resize(tf.cast(img, tf.float32) / 255.0, (height, width))
        images.append(img.numpy())
    return [np.stack(images).astype(np.float32)]


def _load_callable(spec_text: str) -> list[np.ndarray]:
    module_name, _, func_name = spec_text.rpartition(":")
    try:
        if module_name.endswith(".py"):
            file = Path(module_name)
            if not file.exists():
                raise UserError(f"{file}: no such file (from --rep-data {spec_text})")
            loader_spec = importlib.util.spec_from_file_location(file.stem, file)
            assert loader_spec and loader_spec.loader
            module = importlib.util.module_from_spec(loader_spec)
            loader_spec.loader.exec_module(module)
        else:
            if "" not in sys.path and "." not in sys.path:
                sys.path.insert(0, "")  # let `mymodule:fn` find mymodule.py in the working directory
            module = importlib.import_module(module_name)
    except UserError:
        raise
    except Exception as err:
        raise UserError(f"cannot import '{module_name}' for {spec_text}: {type(err).__name__}: {err}") from None
    func = getattr(module, func_name, None)
    if not callable(func):
        raise UserError(f"'{func_name}' is not a function in module '{module_name}'")
    try:
        result = func()
    except Exception as err:
        raise UserError(f"{spec_text} raised {type(err).__name__}: {err}") from None
    if isinstance(result, np.ndarray):
        return [result]
    if isinstance(result, (list, tuple)) and result and all(isinstance(a, np.ndarray) for a in result):
        if len({a.shape for a in result}) == 1 and len(result) > 4:
            return [np.stack(result)]  # a list of samples
        return list(result)
    samples = [s if isinstance(s, (list, tuple)) else [s] for s in result]  # an iterable of samples
    if not samples:
        raise UserError(f"{spec_text} returned no samples")
    return [np.concatenate([np.asarray(s[i])[None] if np.asarray(s[i]).ndim else np.asarray(s[i])[None, None]
                            for s in samples]) for i in range(len(samples[0]))]


def read_arrays(spec_text: str, specs: Sequence[InputSpec], *, what: str) -> list[np.ndarray]:
    """Read raw arrays (not yet checked) from a data spec."""
    if spec_text.startswith("zoo:"):  # a zoo model's own calibration data
        from tinydeploy import zoo

        return [zoo.representative_data(spec_text[4:])]
    path = Path(spec_text)
    if path.exists():
        if path.is_dir():
            if len(specs) != 1:
                raise UserError(f"{path}: an image directory can feed a single-input model only")
            return _load_images(path, specs[0])
        if path.stat().st_size == 0:
            raise UserError(f"{path}: the {what} file is empty")
        suffix = path.suffix.lower()
        if suffix == ".npy":
            return _load_npy(path)
        if suffix == ".npz":
            return _load_npz_inputs(path, specs)
        if suffix == ".csv":
            return _load_csv(path)
        raise UserError(f"{path}: unknown {what} format '{suffix}'",
                        hint="use .npy, .npz, .csv, a directory of images or module:function")
    if ":" in spec_text:
        return _load_callable(spec_text)
    raise UserError(f"{spec_text}: no such file or directory ({what})")


# --- checking -----------------------------------------------------------------------------------------


def fit_to_inputs(arrays: list[np.ndarray], specs: Sequence[InputSpec], *, source: str, what: str,
                  limit: int | None = None) -> list[np.ndarray]:
    """Check arrays against the model inputs and return float32 copies (at most `limit` samples)."""
    if len(arrays) != len(specs):
        raise UserError(f"{source}: {what} has {len(arrays)} arrays, the model has {len(specs)} inputs")
    result = []
    count = None
    for arr, spec in zip(arrays, specs):
        arr = np.asarray(arr)
        if arr.dtype.kind not in "fiub":
            raise UserError(f"{source}: {what} for input '{spec.name}' has dtype {arr.dtype}, expected numbers "
                            f"(float32)")
        if arr.ndim == len(spec.shape) and arr.shape == spec.shape:
            arr = arr[None]  # a single sample
        if arr.ndim == 2 and len(spec.shape) > 1 and arr.shape[1] == int(np.prod(spec.shape)) \
                and source.endswith(".csv"):
            arr = arr.reshape((-1, *spec.shape))  # CSV rows are flattened samples
        if arr.shape[1:] != spec.shape:
            raise UserError(f"{source}: {what} for input '{spec.name}' has shape {_fmt(arr.shape)}, expected "
                            f"(N, {', '.join(map(str, spec.shape))})")
        if count is not None and len(arr) != count:
            raise UserError(f"{source}: {what} arrays hold different numbers of samples ({count} vs {len(arr)})")
        count = len(arr)
        if count == 0:
            raise UserError(f"{source}: {what} holds no samples")
        data = arr[:limit] if limit else arr
        data = data.astype(np.float32)
        if not np.all(np.isfinite(data)):
            raise UserError(f"{source}: {what} for input '{spec.name}' contains NaN or infinity")
        result.append(data)
    return result


def load_inputs(spec_text: str, specs: Sequence[InputSpec], *, what: str = "calibration data",
                limit: int | None = None) -> list[np.ndarray]:
    """Read a data spec and check it against the model inputs: one float32 array per input."""
    return fit_to_inputs(read_arrays(spec_text, specs, what=what), specs, source=spec_text, what=what, limit=limit)


def load_labels(spec_text: str, count: int, *, source_hint: str = "--eval-labels") -> np.ndarray:
    """Class labels (1-D int, or one-hot -> argmax) for `count` samples."""
    return check_labels(read_label_array(spec_text, source_hint=source_hint), count, spec_text)


def read_label_array(spec_text: str, *, source_hint: str = "--eval-labels") -> np.ndarray:
    """The label array of a .npy/.npz/.csv file as stored: class indices, one-hot rows or float targets."""
    path = Path(spec_text)
    if not path.exists():
        raise UserError(f"{spec_text}: no such file ({source_hint})")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        arrays = _open_npz(path)
        key = _pick(arrays, Y_KEYS) or (next(iter(arrays)) if len(arrays) == 1 else None)
        if key is None:
            raise UserError(f"{path}: no label array among keys {sorted(arrays)}", hint="name it 'y'")
        labels = arrays[key]
    elif suffix == ".npy":
        labels = _load_npy(path)[0]
    elif suffix == ".csv":
        labels = _load_csv(path)[0]
        if labels.ndim == 2 and labels.shape[1] == 1:
            labels = labels[:, 0]
    else:
        raise UserError(f"{path}: unknown label format '{suffix}'", hint="use .npy, .npz or .csv")
    return np.asarray(labels)


def check_labels(labels: np.ndarray, count: int, source: str) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] > 1:
        labels = labels.argmax(axis=1)  # one-hot
    labels = labels.reshape(-1) if labels.ndim == 2 else labels
    if labels.ndim != 1 or labels.dtype.kind not in "iuf":
        raise UserError(f"{source}: labels must be a 1-D array of class indices, got shape {labels.shape} "
                        f"dtype {labels.dtype}")
    if len(labels) != count:
        raise UserError(f"{source}: {len(labels)} labels for {count} samples")
    return labels.astype(np.int64)
