"""Option value types for the `deploy` commands: every number, input file and output path is checked
while the command line is parsed, before anything runs, so a typo costs a one-line error (exit 2), not a
traceback after a 10-minute build, and results are never lost because their report path was unwritable.

Used as argparse `type=` callables by verify, run, demo and flash (one place for these rules):

    parser.add_argument("--timeout", type=positive_seconds, default=2.0)
    parser.add_argument("--report", type=output_file)
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

ArgType = Callable[[str], object]


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number ({what})") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number ({what})")
    return value


def positive_seconds(text: str) -> float:
    """A finite number of seconds > 0."""
    value = _number(text, "seconds > 0")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} s is not a usable timeout: give seconds > 0")
    return value


def positive_int(text: str) -> int:
    """A whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 1") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a whole number >= 1")
    return value


def in_range(low: float | None, high: float | None) -> ArgType:
    """A finite number in [low, high] (either bound may be open-ended)."""
    span = f"in [{'-inf' if low is None else f'{low:g}'}, {'inf' if high is None else f'{high:g}'}]"

    def parse(text: str) -> float:
        value = _number(text, span)
        if (low is not None and value < low) or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{text} is out of range: give a number {span}")
        return value

    parse.__name__ = f"number {span}"
    return parse


fraction = in_range(0.0, 1.0)  # rates and shares: exact-match rate, agreement, accuracy
non_negative = in_range(0.0, None)  # error bounds: LSB, absolute error
cosine = in_range(-1.0, 1.0)


def existing_file(text: str) -> str:
    """A path to a readable file."""
    path = Path(text)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{text}: no such file")
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{text}: is a directory, not a file")
    if not os.access(path, os.R_OK):
        raise argparse.ArgumentTypeError(f"{text}: not readable")
    return text


def existing_path(text: str) -> str:
    """A file or directory that exists (a model: .tflite/.keras file or SavedModel directory)."""
    if not Path(text).exists():
        raise argparse.ArgumentTypeError(f"{text}: no such file or directory")
    return text


def array_file(text: str) -> str:
    """A .npy/.npz numpy can read (no pickles) whose float arrays hold only finite values."""
    existing_file(text)
    try:
        loaded = np.load(text, allow_pickle=False, mmap_mode="r")
    except (OSError, ValueError, EOFError) as err:
        raise argparse.ArgumentTypeError(f"{text}: not a .npy/.npz file numpy can read ({err})") from None
    arrays = {"": loaded} if isinstance(loaded, np.ndarray) else None
    if arrays is None:
        try:
            with loaded:
                arrays = {name: loaded[name] for name in loaded.files}
        except (OSError, ValueError, EOFError) as err:
            raise argparse.ArgumentTypeError(f"{text}: a damaged .npz archive ({err})") from None
    for name, array in arrays.items():
        _check_finite(text + (f"[{name}]" if name else ""), array)
    return text


def _check_finite(where: str, array: np.ndarray) -> None:
    if array.dtype.kind not in "fc" or array.size == 0:
        return
    bad = ~np.isfinite(np.asarray(array))
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        raise argparse.ArgumentTypeError(
            f"{where}: holds {int(bad.sum())} NaN/infinite value(s), the first at index {list(index)}: "
            f"drop or fix those samples")


def output_file(text: str) -> str:
    """A file path a report can be written to: not a directory, in a directory that exists (or can be
    made) and takes new files, and not a read-only file.  Probed by really creating a file there."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: is a directory; give a file name (e.g. {path / 'report'})")
    if path.exists() and not os.access(path, os.W_OK):
        raise argparse.ArgumentTypeError(f"{text}: the file is read-only")
    parent = _nearest_existing(path.parent)
    if not parent.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: {parent} is a file, not a directory")
    try:
        fd, probe = tempfile.mkstemp(prefix=".tinydeploy-probe-", dir=parent)
    except OSError as err:
        raise argparse.ArgumentTypeError(f"{text}: cannot write in {parent} ({err.strerror or err})") from None
    os.close(fd)
    os.unlink(probe)
    return text


def _nearest_existing(path: Path) -> Path:
    path = path if str(path) else Path(".")
    while not path.exists() and path != path.parent:
        path = path.parent
    return path
