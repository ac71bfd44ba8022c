"""Quantization-aware training with tensorflow-model-optimization, isolated in a subprocess.

tfmot works with TF 2.21 only through `tf_keras` (Keras 2), and only when TF_USE_LEGACY_KERAS=1 is set
before TensorFlow is imported.  The rest of tinydeploy uses Keras 3, so QAT runs in its own Python process
(`python -m tinydeploy.convert.qat REQUEST.json`) started by `run_qat_subprocess()` with that variable set.

In the worker, a Keras 3 model (.keras, or .h5 saved by Keras 3; functional or Sequential) is loaded with
Keras 3 and rebuilt in tf_keras by tinydeploy.convert.legacy (same layer types, configs and weights); a
tf_keras .h5 loads directly.  tfmot then wraps
it (a layer it cannot wrap is a UserError naming the layer), it is fine-tuned on the training data, and the
result is converted to a full-integer .tflite with a fixed batch size of 1.

Request (JSON): model, train_data, epochs, batch_size, learning_rate, output, io_dtype, result.
Result (JSON): {"ok": true, "history": {...}, "train_samples": N} or {"ok": false, "error": ..., "hint": ...}.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tinydeploy.errors import UserError

DEFAULT_TIMEOUT_S = 1800.0


@dataclass
class QatRequest:
    model: str
    train_data: str
    output: str
    epochs: int = 2
    batch_size: int = 32
    learning_rate: float = 1e-3
    io_dtype: str = "int8"


# --- parent side --------------------------------------------------------------------------------------


def run_qat_subprocess(request: QatRequest, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> dict[str, Any]:
    """Run QAT in a worker process; returns its result dict or raises the worker's UserError."""
    from tinydeploy.convert.tfenv import QUIET_ENV

    env = dict(os.environ, TF_USE_LEGACY_KERAS="1", **{k: os.environ.get(k, v) for k, v in QUIET_ENV.items()})
    host_dir = str(Path(__file__).resolve().parents[2])  # so the worker imports this very tinydeploy
    env["PYTHONPATH"] = host_dir + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    with tempfile.TemporaryDirectory(prefix="tinydeploy-qat-") as tmp:
        req_path, result_path = Path(tmp) / "request.json", Path(tmp) / "result.json"
        req_path.write_text(json.dumps({**asdict(request), "result": str(result_path)}))
        try:
            proc = subprocess.run([sys.executable, "-m", "tinydeploy.convert.qat", str(req_path)], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise UserError(f"QAT of {request.model} did not finish within {timeout_s:.0f} s",
                            hint="use fewer --epochs or less training data") from None
        if not result_path.exists():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            raise UserError(f"QAT worker for {request.model} died (exit {proc.returncode}): {tail[0][:300]}")
        result = json.loads(result_path.read_text())
    if not result.get("ok"):
        raise UserError(result.get("error", "QAT failed"), hint=result.get("hint"))
    return result


# --- worker side ----------------------------------------------------------------------------------------


def _load_for_qat(path: Path, tfk: Any) -> Any:
    from tinydeploy.convert.legacy import load_as_tf_keras

    return load_as_tf_keras(path, tfk, batch_size=None, purpose="QAT")


def _quantize(model: Any, tfmot: Any) -> Any:
    from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
        default_8bit_quantize_registry as registry_module,
    )

    registry = registry_module.Default8BitQuantizeRegistry()
    for layer in model.layers:
        if type(layer).__name__ == "InputLayer":
            continue
        if not registry.supports(layer):
            raise UserError(f"QAT cannot wrap layer '{layer.name}' ({type(layer).__name__}): "
                            "tensorflow-model-optimization has no quantization config for it",
                            hint="replace the layer, or use post-training quantization: --mode int8")
    try:
        return tfmot.quantization.keras.quantize_model(model)
    except (RuntimeError, ValueError) as err:
        raise UserError(f"QAT cannot wrap the model: {' '.join(str(err).split())[:300]}") from None


def _final_activation(model: Any) -> str | None:
    config = model.layers[-1].get_config() if model.layers else {}
    activation = config.get("activation")
    return activation if isinstance(activation, str) else None


def _loss_for(model: Any, y: np.ndarray) -> tuple[str, list[str], np.ndarray]:
    """The loss (and metrics) that fit the labels and the output, and the labels shaped for Keras.

    (N,) class indices for a class-score output: sparse categorical cross-entropy; one-hot rows: categorical;
    anything with one value per output element (an (N,) target for an (N, 1) output included, as Keras takes
    it): binary cross-entropy for a sigmoid unit with 0/1 labels, mean squared error otherwise."""
    out_shape = tuple(int(d) for d in model.outputs[0].shape[1:])
    per_sample = int(np.prod(out_shape)) if out_shape else 1
    integral = y.dtype.kind in "iub" or bool(np.all(y == np.round(y)))
    if y.ndim == 1 and per_sample > 1 and integral:
        return "sparse_categorical_crossentropy", ["accuracy"], y.astype(np.int64)
    if y.size != len(y) * per_sample:
        raise UserError(f"QAT training labels have shape {y.shape}, expected (N,) class indices or (N, "
                        f"{', '.join(map(str, out_shape))}) targets")
    targets = y.reshape((len(y), *out_shape)).astype(np.float32)
    if per_sample > 1 and integral and np.all(targets.reshape(len(y), -1).sum(axis=1) == 1) \
            and set(np.unique(targets)) <= {0.0, 1.0}:
        return "categorical_crossentropy", ["accuracy"], targets
    if per_sample == 1 and _final_activation(model) == "sigmoid" and set(np.unique(targets)) <= {0.0, 1.0}:
        return "binary_crossentropy", ["accuracy"], targets
    return "mse", ["mae"], targets


def _train_arrays(request: QatRequest, model: Any) -> tuple[list[np.ndarray], np.ndarray]:
    from tinydeploy.convert.data import X_KEYS, Y_KEYS, InputSpec, fit_to_inputs

    path = Path(request.train_data)
    if not path.exists():
        raise UserError(f"{path}: no such file (--train-data)")
    if path.suffix.lower() != ".npz":
        raise UserError(f"{path}: --train-data must be an .npz with inputs 'x' and labels 'y'")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as err:
        raise UserError(f"{path}: cannot read as .npz ({type(err).__name__}: {err})") from None
    specs = [InputSpec(t.name, tuple(int(d) for d in t.shape[1:])) for t in model.inputs]
    x_key = next((k for k in X_KEYS if k in arrays), None)
    y_key = next((k for k in Y_KEYS if k in arrays), None)
    if x_key is None or y_key is None:
        raise UserError(f"{path}: needs arrays 'x' and 'y', found {sorted(arrays)}")
    xs = fit_to_inputs([arrays[x_key]], specs, source=str(path), what="training data")
    y = arrays[y_key]
    if len(y) != len(xs[0]):
        raise UserError(f"{path}: {len(y)} labels for {len(xs[0])} training samples")
    return xs, y


def _to_tflite(tf: Any, qat_model: Any, io_dtype: str, calibration: list[np.ndarray]) -> bytes:
    """Full-integer conversion through a concrete function with batch size 1 (static shapes)."""
    specs = [tf.TensorSpec((1, *t.shape[1:]), tf.float32) for t in qat_model.inputs]
    fn = tf.function(lambda *xs: qat_model(list(xs) if len(xs) > 1 else xs[0], training=False))
    concrete = fn.get_concrete_function(*specs)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], qat_model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter._experimental_disable_per_channel_quantization_for_dense_layers = True

    def representative():
        for i in range(min(100, len(calibration[0]))):
            yield [a[i : i + 1] for a in calibration]

    converter.representative_dataset = representative
    io_types = {"int8": tf.int8, "uint8": tf.uint8, "float32": tf.float32}
    converter.inference_input_type = io_types[io_dtype]
    converter.inference_output_type = io_types[io_dtype]
    try:
        return bytes(converter.convert())
    except Exception as err:
        raise UserError(f"converting the QAT model failed: {' '.join(str(err).split())[:300]}") from None


def worker(request: QatRequest) -> dict[str, Any]:
    if os.environ.get("TF_USE_LEGACY_KERAS") != "1":
        raise UserError("the QAT worker needs TF_USE_LEGACY_KERAS=1 (start it with run_qat_subprocess)")
    from tinydeploy.convert.tfenv import captured_stderr_fd, import_tf

    tf = import_tf()
    with captured_stderr_fd():
        import tensorflow_model_optimization as tfmot
        import tf_keras as tfk

    tfk.utils.set_random_seed(0)
    model = _load_for_qat(Path(request.model), tfk)
    xs, y = _train_arrays(request, model)
    qat_model = _quantize(model, tfmot)
    loss, metrics, y = _loss_for(model, y)
    qat_model.compile(optimizer=tfk.optimizers.Adam(request.learning_rate), loss=loss, metrics=metrics)
    history = qat_model.fit(xs if len(xs) > 1 else xs[0], y, epochs=request.epochs,
                            batch_size=request.batch_size, verbose=0)
    with captured_stderr_fd():
        tflite = _to_tflite(tf, qat_model, request.io_dtype, xs)
    Path(request.output).write_bytes(tflite)
    return {"ok": True, "train_samples": int(len(y)),
            "history": {k: [float(v) for v in vals] for k, vals in history.history.items()}}


def main(argv: list[str]) -> int:
    raw = json.loads(Path(argv[0]).read_text())
    result_path = Path(raw.pop("result"))
    try:
        result = worker(QatRequest(**raw))
    except UserError as err:
        result = {"ok": False, "error": err.message, "hint": err.hint}
    except Exception as err:  # anything else is a bug, but the parent still gets one clear line
        result = {"ok": False, "error": f"QAT failed: {type(err).__name__}: {' '.join(str(err).split())[:300]}"}
    result_path.write_text(json.dumps(result))
    return 0 if result.get("ok") else 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
