"""Importing TensorFlow quietly, and silencing the converter's C++ chatter.

TensorFlow is heavy (seconds to import) and noisy (C++ logs on fd 2), so every module that needs it calls
`import_tf()` lazily instead of importing it at module level: `deploy boards` must not pay for it.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from typing import Any, Iterator

QUIET_ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "TF_ENABLE_ONEDNN_OPTS": "0",  # oneDNN makes float results depend on the CPU; we want reproducible floats
    "ABSL_MIN_LOG_LEVEL": "3",
    "GLOG_minloglevel": "3",
}


def set_quiet_env() -> None:
    """Set TF's logging variables unless the user chose otherwise (must happen before TF is imported)."""
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)


def import_tf() -> Any:
    """`import tensorflow` with logging turned down; returns the module."""
    set_quiet_env()
    import warnings

    warnings.filterwarnings("ignore", module=r"tensorflow.*")
    warnings.filterwarnings("ignore", module=r"keras.*")
    if "tensorflow" not in sys.modules:
        with captured_stderr_fd():  # TF's C++ prints CUDA and absl notices while importing
            import tensorflow  # noqa: F401
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    try:
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
    except ImportError:  # pragma: no cover - absl ships with TF
        pass
    return tf


def import_keras() -> Any:
    import_tf()
    import keras

    return keras


@contextlib.contextmanager
def captured_stderr_fd() -> Iterator[list[str]]:
    """Redirect file descriptor 2 (where TF's C++ code prints) to a temp file for the duration.

    Yields a list that receives the captured text when the block exits, so a caller can show it when the
    conversion fails and drop it when it succeeds.
    """
    captured: list[str] = []
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no fd 2 (embedded interpreters): nothing to redirect
        yield captured
        return
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield captured
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            captured.append(tmp.read().decode("utf-8", "replace"))
