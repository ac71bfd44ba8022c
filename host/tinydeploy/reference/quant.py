"""Moving between real values and a tensor's stored values with its scale and zero point."""

from __future__ import annotations

import numpy as np

from tinydeploy.errors import UserError
from tinydeploy.model.graph import Tensor


def _params(tensor: Tensor, ndim: int) -> tuple[np.ndarray, np.ndarray]:
    """Scale and zero point shaped to broadcast against an array of `ndim` dims (per-channel aware)."""
    q = tensor.quant
    assert q is not None
    if not q.per_channel:
        return q.scale.astype(np.float64)[:1].reshape(()), q.zero_point[:1].reshape(())
    shape = [1] * ndim
    shape[q.axis] = q.scale.size
    return q.scale.astype(np.float64).reshape(shape), q.zero_point.reshape(shape)


def quantize_input(x_float: np.ndarray, tensor: Tensor) -> np.ndarray:
    """Real values -> the tensor's stored dtype: round(x / scale) + zero_point, saturated.

    Rounds half away from zero, as TFLite's QUANTIZE kernel does.  A float tensor just gets a float cast.
    """
    x = np.asarray(x_float, dtype=np.float64)
    dtype = tensor.numpy_dtype
    if tensor.quant is None or not np.issubdtype(dtype, np.integer):
        if np.issubdtype(dtype, np.integer):
            raise UserError(f"tensor '{tensor.name}' is {tensor.dtype} without quantization parameters; "
                            "cannot quantize real values into it")
        return x.astype(dtype)
    scale, zero_point = _params(tensor, x.ndim)
    scaled = x / scale
    rounded = np.sign(scaled) * np.floor(np.abs(scaled) + 0.5)
    info = np.iinfo(dtype)
    return np.clip(rounded + zero_point, info.min, info.max).astype(dtype)


def dequantize_output(y: np.ndarray, tensor: Tensor) -> np.ndarray:
    """Stored values -> real values (float32): scale * (y - zero_point).  Float tensors pass through."""
    arr = np.asarray(y)
    if tensor.quant is None or not np.issubdtype(arr.dtype, np.integer):
        return arr.astype(np.float32)
    scale, zero_point = _params(tensor, arr.ndim)
    return (scale * (arr.astype(np.int64) - zero_point)).astype(np.float32)
