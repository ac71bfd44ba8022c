"""Intermediate tensors from TFLM's host interpreter: the reference for the device's layer-by-layer diff.

    values = tflm_intermediates(model, [x], [12, 15, 20])   # one sample (batch 1), tensor indices
    values[12].shape == tuple(model.tensors[12].shape)

The tflite-micro package's interpreter keeps every tensor when built with `kPreserveAllTensors` (each
tensor gets its own arena bytes instead of sharing them) and hands any of them out by index
(`GetTensor(index, subgraph)`), so one invoke yields every layer's output exactly as TFLM computes it.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from tinydeploy.convert.tfenv import captured_stderr_fd
from tinydeploy.errors import UserError
from tinydeploy.model.graph import Model


def tflm_intermediates(model: Model, sample: Sequence[np.ndarray], tensors: Sequence[int]) -> dict[int, np.ndarray]:
    """Run one sample (one array per model input, batch 1) through TFLM keeping every tensor; returns the
    requested tensors' values by index, shaped like the tensors."""
    runtime = _runtime()
    where = str(model.path or "model")
    # Every tensor lives on its own: the arena holds all activations at once.
    activations = sum(t.nbytes for t in model.tensors if not t.is_constant)
    arena = 10 * len(model.raw) + 2 * activations + (256 << 10)
    with captured_stderr_fd() as log:
        try:
            interp = runtime.Interpreter.from_bytes(model.raw, arena_size=arena,
                                                    intrepreter_config=runtime.InterpreterConfig.kPreserveAllTensors)
            for i, x in enumerate(sample):
                interp.set_input(np.ascontiguousarray(x), i)
            interp.invoke()
            values = {t: np.array(interp.GetTensor(int(t), 0)["tensor_data"]) for t in tensors}
        except (RuntimeError, ValueError, KeyError) as err:
            failure: Exception | None = err
        else:
            failure = None
    if failure is not None:
        detail = " ".join((str(failure) + " " + " ".join(log)).split())[:300]
        raise UserError(f"{where}: TFLM's host interpreter could not produce the intermediate tensors: {detail}",
                        hint="check that `deploy verify` (without --layers) runs this model")
    return {t: _shaped(v, tuple(model.tensors[t].shape)) for t, v in values.items()}


def _shaped(value: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    return value.reshape(shape) if value.size == int(np.prod(shape, dtype=np.int64)) else value


def _runtime():
    try:
        with captured_stderr_fd():
            from tflite_micro.python.tflite_micro import runtime
    except ImportError as err:
        raise UserError(f"the layer-by-layer diff needs the tflite-micro package ({err})",
                        hint="pip install tflite-micro") from None
    return runtime
