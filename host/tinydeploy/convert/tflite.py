"""Keras / SavedModel -> .tflite bytes, in each quantization mode.

Modes:
  float32   no quantization
  dynamic   int8 weights, float activations (dynamic-range / hybrid ops)
  float16   float16 weights, dequantized at load
  int8      full-integer PTQ: int8 activations, per-channel int8 weights, int32 biases (needs calibration data)
  int16x8   int16 activations, int8 weights (needs calibration data)

Calibration data is one float array per model input, samples along axis 0 (`arrays[i].shape[1:]` is that
input's shape without the batch dimension).
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from tinydeploy.convert.tfenv import captured_stderr_fd, import_tf
from tinydeploy.errors import UnsupportedOpError, UserError

MODES = ("float32", "dynamic", "float16", "int8", "int16x8")
QUANTIZED_IO_MODES = ("int8", "int16x8")
IO_DTYPES = ("int8", "uint8", "int16", "float32")

# Input/output dtype each mode gets unless --io-dtype says otherwise.
DEFAULT_IO_DTYPE = {"float32": "float32", "dynamic": "float32", "float16": "float32", "int8": "int8",
                    "int16x8": "int16"}

CalibrationData = Sequence[np.ndarray]


def default_io_dtype(mode: str) -> str:
    return DEFAULT_IO_DTYPE[mode]


def check_mode(mode: str, io_dtype: str | None) -> str:
    """Validate mode and io dtype together; returns the io dtype to use."""
    if mode not in MODES:
        raise UserError(f"unknown conversion mode '{mode}'", hint=f"use one of: {', '.join(MODES)}, qat")
    io = io_dtype or DEFAULT_IO_DTYPE[mode]
    allowed = {"int8": ("int8", "uint8", "float32"), "int16x8": ("int16", "float32")}.get(mode, ("float32",))
    if io not in allowed:
        raise UserError(f"--io-dtype {io} does not fit --mode {mode}", hint=f"use one of: {', '.join(allowed)}")
    return io


def _representative(arrays: CalibrationData) -> Callable[[], Iterator[list[np.ndarray]]]:
    count = min(len(a) for a in arrays)

    def generate() -> Iterator[list[np.ndarray]]:
        for i in range(count):
            yield [np.asarray(a[i : i + 1], dtype=np.float32) for a in arrays]

    return generate


def _configure(converter: Any, tf: Any, mode: str, io: str, calibration: CalibrationData | None) -> None:
    if mode == "float32":
        return
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "dynamic":
        return
    if mode == "float16":
        converter.target_spec.supported_types = [tf.float16]
        return
    if not calibration:
        raise UserError(f"--mode {mode} needs calibration data", hint="pass --rep-data FILE (.npy, .npz, "
                        "image directory, .csv or module:function)")
    converter.representative_dataset = _representative(calibration)
    # Dense layers keep per-tensor weights: what every micro runtime (and our aot kernels) handles.
    converter._experimental_disable_per_channel_quantization_for_dense_layers = True
    if mode == "int8":
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    else:
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
        ]
    io_types = {"int8": tf.int8, "uint8": tf.uint8, "int16": tf.int16, "float32": tf.float32}
    converter.inference_input_type = io_types[io]
    converter.inference_output_type = io_types[io]


_UNSUPPORTED_TF_OP = re.compile(r"'tf\.(\w+)' op is neither a custom op nor a flex op")
_OP_LOCATION = re.compile(r'fused\["(\w+):", "([^"@]+)')


def explain_converter_error(text: str, what: str) -> UserError:
    """Turn the converter's MLIR diagnostics into one line naming the TF op and the layer."""
    unsupported = _UNSUPPORTED_TF_OP.search(text)
    if unsupported:
        op = unsupported.group(1)
        layer = next((loc.group(2).rsplit("/", 1)[0] for loc in _OP_LOCATION.finditer(text)
                      if loc.group(1) == op), "?")
        return UnsupportedOpError(f"{what}: TF op {op} (layer '{layer}') has no TFLite builtin kernel",
                                  hint="replace that layer with standard layers (micro runtimes have no Flex ops)")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    errors = [ln for ln in lines if "error:" in ln]
    detail = errors[0].split("error:")[-1].strip() if errors else (lines[0] if lines else "unknown error")
    return UserError(f"{what}: the TFLite converter failed: {detail[:300]}")


def _run(converter: Any, what: str) -> bytes:
    with captured_stderr_fd() as log, contextlib.redirect_stdout(io.StringIO()):
        try:
            return bytes(converter.convert())
        except Exception as err:  # the converter raises many unrelated types; all mean "cannot convert"
            text = str(err) or type(err).__name__
    raise explain_converter_error(text + "\n" + "".join(log), what)


def keras_to_tflite(model: Any, mode: str, *, calibration: CalibrationData | None = None,
                    io_dtype: str | None = None, what: str = "model") -> bytes:
    """Convert an in-memory Keras model (Keras 3 or tf_keras)."""
    tf = import_tf()
    io_type = check_mode(mode, io_dtype)
    with contextlib.redirect_stdout(io.StringIO()):  # Keras 3 prints its export steps
        converter = tf.lite.TFLiteConverter.from_keras_model(model)
    _configure(converter, tf, mode, io_type, calibration)
    return _run(converter, what)


def saved_model_to_tflite(path: Path, mode: str, *, calibration: CalibrationData | None = None,
                          io_dtype: str | None = None) -> bytes:
    """Convert a SavedModel (`tf.saved_model.save(model, dir)` or `model.export(dir)`) through its serving
    signature traced with batch size 1, variables frozen into constants.

    `from_saved_model` keeps the batch dimension unknown and the weights as resource variables: a Keras 3
    Dense then becomes BATCH_MATMUL fed by READ_VARIABLE ops, which no micro runtime runs and which the int8
    calibrator cannot even invoke.  Tracing the signature with static shapes lets the converter freeze the
    variables and fuse the layers into FULLY_CONNECTED / CONV_2D as for a Keras model.
    """
    tf = import_tf()
    io_type = check_mode(mode, io_dtype)
    loaded, concrete = batch_one_signature(tf, path)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], loaded)
    _configure(converter, tf, mode, io_type, calibration)
    return _run(converter, str(path))


def saved_model_signature(tf: Any, path: Path) -> tuple[Any, Any]:
    """(the loaded SavedModel, its serving signature); UserError naming the directory when either fails."""
    try:
        loaded = tf.saved_model.load(str(path))
    except Exception as err:  # TF raises many types for corrupt or foreign directories
        raise UserError(f"{path}: cannot load the SavedModel ({' '.join(str(err).split())[:200]})") from None
    signatures = getattr(loaded, "signatures", {})
    if "serving_default" not in signatures:
        found = ", ".join(sorted(signatures)) or "none"
        raise UserError(f"{path}: the SavedModel has no 'serving_default' signature (signatures: {found})",
                        hint="save it with tf.saved_model.save(model, DIR) or model.export(DIR)")
    return loaded, signatures["serving_default"]


def signature_inputs(path: Path, signature: Any) -> list[tuple[str, tuple[int, ...], Any]]:
    """(name, shape without batch, dtype) of each signature input, sorted by name (the converter's order)."""
    args, kwargs = signature.structured_input_signature
    if args:
        raise UserError(f"{path}: the serving signature takes positional inputs; expected named ones")
    result = []
    for name in sorted(kwargs):
        dims = tuple(kwargs[name].shape)
        if not dims or any(d is None for d in dims[1:]):
            raise UserError(f"{path}: input '{name}' has an unknown dimension {dims}: micro runtimes need "
                            "static shapes", hint="save the model with a full input shape (keras.Input(shape))")
        if dims[0] not in (None, 1):
            raise UserError(f"{path}: input '{name}' has a fixed batch size of {dims[0]}; micro runtimes run "
                            "one sample at a time", hint="save the model with batch size 1 or unknown")
        result.append((name, tuple(int(d) for d in dims[1:]), kwargs[name].dtype))
    return result


def batch_one_signature(tf: Any, path: Path) -> tuple[Any, Any]:
    """(loaded SavedModel, concrete function of its serving signature with every input's batch size 1)."""
    loaded, signature = saved_model_signature(tf, path)
    inputs = signature_inputs(path, signature)
    names = [name for name, _, _ in inputs]
    specs = [tf.TensorSpec((1, *shape), dtype, name=name) for name, shape, dtype in inputs]

    def serve(*tensors: Any) -> Any:
        return signature(**dict(zip(names, tensors)))

    return loaded, tf.function(serve, input_signature=specs).get_concrete_function()
