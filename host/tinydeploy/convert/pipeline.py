"""`deploy convert` as a function: model in, checked .tflite out, with a report of what changed.

    result = convert_model(Path("model.keras"), "int8", rep_data="calib.npz", output=Path("m.tflite"),
                           eval_data="test.npz", eval_labels="test.npz")
    result.size_after, result.ops, result.evaluation.top1_agreement

Inputs: a Keras `.keras`/`.h5` file, a SavedModel directory, or a `.tflite` (checked and passed through).
TensorFlow's converter runs in a child process (tinydeploy.convert.worker): when it crashes, the user gets one
line naming the model and the mode, and a Keras 3 model the converter crashes on is retried through legacy
Keras.  The output appears atomically, and only after the model parsed: a failed run never leaves a file
behind.  A valid model is always written, even when a runtime lacks one of its ops: the report warns, naming
the op and the runtime that runs it.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tinydeploy.convert.data import InputSpec, load_inputs, read_label_array
from tinydeploy.convert.tflite import MODES, check_mode
from tinydeploy.errors import UserError
from tinydeploy.files import write_atomic
from tinydeploy.model.graph import parse_model
from tinydeploy.progress import spinner

KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")
ZOO_PREFIX = "zoo:"  # `deploy convert zoo:digits_cnn`: a model of tinydeploy.zoo, calibrated with its own data
DEFAULT_REP_SAMPLES = 200


@dataclass
class Evaluation:
    samples: int
    backend: str  # which reference ran the converted model
    top1_agreement: float | None  # argmax(float) == argmax(converted), classification outputs only
    float_accuracy: float | None  # with class labels
    converted_accuracy: float | None
    max_abs_error: float  # float vs converted outputs
    mean_abs_error: float
    cosine_similarity: float  # cos(float outputs, converted outputs) over the whole output
    task: str = "classification"  # or "regression" (an output that is not a class score vector)
    float_rmse: float | None = None  # with regression targets: against the targets
    converted_rmse: float | None = None
    float_mae: float | None = None
    converted_mae: float | None = None


@dataclass
class ConvertResult:
    source: Path
    source_kind: str  # "keras", "savedmodel", "tflite"
    mode: str
    io_dtype: str
    output: Path | None
    size_before: int  # bytes of the source model on disk
    float_weight_bytes: int | None  # parameters x 4 (Keras sources)
    size_after: int
    ops: dict[str, int]
    evaluation: Evaluation | None = None
    warnings: list[str] = field(default_factory=list)
    converter: str | None = None  # the route that converted it: keras3, legacy, savedmodel

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["source"] = str(self.source)
        data["output"] = str(self.output) if self.output else None
        return data


# --- sources ------------------------------------------------------------------------------------------


@dataclass
class Source:
    path: Path
    kind: str
    keras_model: Any = None
    inputs: list[InputSpec] = field(default_factory=list)

    @property
    def disk_bytes(self) -> int:
        return disk_bytes(self.path)


def disk_bytes(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def with_batch_one(keras: Any, model: Any) -> Any:
    """Rebuild a model whose inputs have an unknown batch size with batch size 1 (else the converter emits
    dynamic-shape ops a micro runtime cannot run)."""
    if all(t.shape[0] == 1 for t in model.inputs):
        return model
    new_inputs = [keras.Input(tuple(t.shape[1:]), batch_size=1, name=t.name.split(":")[0], dtype=t.dtype)
                  for t in model.inputs]
    outputs = model(new_inputs if len(new_inputs) > 1 else new_inputs[0])
    return keras.Model(new_inputs, outputs, name=model.name)


def keras_input_specs(model: Any) -> list[InputSpec]:
    specs = []
    for t in model.inputs:
        shape = tuple(int(d) if d is not None else -1 for d in t.shape[1:])
        if -1 in shape:
            raise UserError(f"input '{t.name}' has an unknown dimension {tuple(t.shape)}: micro runtimes need "
                            "static shapes", hint="give the keras.Input a full shape")
        specs.append(InputSpec(t.name, shape))
    return specs


def resolve_source(path: Path) -> tuple[Path, str]:
    """(path, kind) of a model without loading it: kind is "keras", "savedmodel" or "tflite"."""
    if str(path).startswith(ZOO_PREFIX):
        from tinydeploy import zoo

        path = zoo.keras_path(str(path)[len(ZOO_PREFIX):])
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: no such file or directory")
    if path.is_dir():
        if not (path / "saved_model.pb").exists():
            raise UserError(f"{path}: a directory but not a SavedModel (no saved_model.pb)")
        return path, "savedmodel"
    suffix = path.suffix.lower()
    if suffix == ".tflite":
        return path, "tflite"
    if suffix in KERAS_SUFFIXES:
        return path, "keras"
    raise UserError(f"{path}: unknown model format '{suffix}'",
                    hint="pass a .keras or .h5 file, a SavedModel directory or a .tflite file")


def open_source(path: Path) -> Source:
    """Identify and load the model at `path` in this process (UserError naming it if it is unreadable)."""
    path, kind = resolve_source(Path(path))
    if kind == "savedmodel":
        from tinydeploy.convert.tfenv import import_tf
        from tinydeploy.convert.tflite import saved_model_signature, signature_inputs

        _, signature = saved_model_signature(import_tf(), path)
        specs = [InputSpec(name, shape) for name, shape, _ in signature_inputs(path, signature)]
        return Source(path, "savedmodel", inputs=specs)
    if kind == "tflite":
        return Source(path, "tflite")
    from tinydeploy.convert.tfenv import import_keras
    from tinydeploy.reference import load_keras

    keras = import_keras()
    model = with_batch_one(keras, load_keras(path))
    return Source(path, "keras", keras_model=model, inputs=keras_input_specs(model))


# --- evaluation ---------------------------------------------------------------------------------------


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two whole output sets (per-sample cosine on a 1-value output only measures sign)."""
    a2, b2 = a.reshape(-1).astype(np.float64), b.reshape(-1).astype(np.float64)
    norm = float(np.linalg.norm(a2) * np.linalg.norm(b2))
    if norm == 0:
        return 1.0 if np.allclose(a2, b2) else 0.0
    return float(np.dot(a2, b2) / norm)


def _run_converted(tflite_path: Path, inputs: list[np.ndarray], progress: bool) -> tuple[np.ndarray, str]:
    """The converted model's first output, dequantized, and the reference that ran it."""
    from tinydeploy.model.graph import load_model
    from tinydeploy.reference import dequantize_output, quantize_input, run_reference

    converted = load_model(tflite_path)
    quantized_inputs = [quantize_input(x, t) for x, t in zip(inputs, converted.input_tensors)]
    integer_io = any(t.dtype != "float32" for t in converted.input_tensors)
    backend = "tflm" if integer_io else "litert"
    try:
        raw = run_reference(backend, tflite_path, quantized_inputs, progress=progress)[0]
    except UserError:
        if backend == "litert":
            raise
        backend = "litert-ref"  # a model TFLM cannot run may still be evaluated with TFLite's kernels
        raw = run_reference(backend, tflite_path, quantized_inputs, progress=progress)[0]
    return dequantize_output(raw, converted.output_tensors[0]), backend


def evaluate(float_model: Any, tflite_path: Path, inputs: list[np.ndarray], labels: np.ndarray | None,
             *, progress: bool = False) -> Evaluation:
    """Compare the float model with the converted one on the same float inputs (first output), and both with
    the labels: class indices / one-hot for a class-score output, targets for a regression output."""
    from tinydeploy.reference import run_reference

    float_out = run_reference("float", float_model, inputs, progress=progress)[0]
    conv_out, backend = _run_converted(tflite_path, inputs, progress)
    float_out = float_out.astype(np.float32).reshape(conv_out.shape)
    diff = np.abs(float_out - conv_out)
    classification = conv_out.ndim == 2 and conv_out.shape[1] > 1
    ev = Evaluation(len(conv_out), backend, None, None, None, float(diff.max()), float(diff.mean()),
                    _cosine(float_out, conv_out), task="classification" if classification else "regression")
    if classification:
        ev.top1_agreement = float((float_out.argmax(1) == conv_out.argmax(1)).mean())
        if labels is not None:
            classes = class_labels(labels, len(conv_out), conv_out.shape[1])
            ev.float_accuracy = float((float_out.argmax(1) == classes).mean())
            ev.converted_accuracy = float((conv_out.argmax(1) == classes).mean())
    elif labels is not None:
        targets = regression_targets(labels, conv_out)
        for name, out in (("float", float_out), ("converted", conv_out)):
            err = out.reshape(len(out), -1).astype(np.float64) - targets
            setattr(ev, f"{name}_rmse", float(np.sqrt(np.mean(err ** 2))))
            setattr(ev, f"{name}_mae", float(np.mean(np.abs(err))))
    return ev


def class_labels(labels: np.ndarray, count: int, classes: int) -> np.ndarray:
    """Class indices from indices or one-hot rows; a UserError when they cannot be this model's classes."""
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] == classes and classes > 1:
        labels = labels.argmax(axis=1)
    labels = labels.reshape(-1) if labels.ndim == 2 and labels.shape[1] == 1 else labels
    if labels.ndim != 1 or len(labels) != count:
        raise UserError(f"labels of shape {labels.shape} do not fit {count} samples of a {classes}-class output",
                        hint="pass class indices (N,) or one-hot rows (N, classes)")
    if labels.dtype.kind == "f" and not np.all(labels == np.round(labels)):
        raise UserError("the labels are fractional but the model outputs class scores",
                        hint="pass class indices (N,) or one-hot rows (N, classes)")
    if labels.min() < 0 or labels.max() >= classes:
        raise UserError(f"labels range {int(labels.min())}..{int(labels.max())}, the model has {classes} classes")
    return labels.astype(np.int64)


def regression_targets(labels: np.ndarray, outputs: np.ndarray) -> np.ndarray:
    """Targets as (N, values per sample): (N,) fits an (N, 1) output, as Keras accepts it."""
    targets = np.asarray(labels, dtype=np.float64)
    per_sample = int(np.prod(outputs.shape[1:])) if outputs.ndim > 1 else 1
    if len(targets) != len(outputs) or targets.size != len(outputs) * per_sample:
        raise UserError(f"targets of shape {targets.shape} do not fit outputs of shape {outputs.shape}",
                        hint=f"pass one target row of {per_sample} value(s) per sample")
    return targets.reshape(len(outputs), per_sample)


def load_eval_set(eval_data: str | None, eval_labels: str | None,
                  specs: list[InputSpec]) -> tuple[list[np.ndarray], np.ndarray | None]:
    """Evaluation inputs (checked against the model) and labels (from --eval-labels, or 'y' in the .npz)."""
    if eval_data is None:
        raise UserError(f"--eval-labels {eval_labels} needs the inputs they label",
                        hint="add --eval-data X (.npy/.npz), or an .npz holding both x and y")
    inputs = load_inputs(eval_data, specs, what="evaluation data")
    labels = None
    if eval_labels:
        labels = read_label_array(eval_labels)
    elif eval_data.endswith(".npz"):  # x and y in one file
        from tinydeploy.convert.data import Y_KEYS, _open_npz

        arrays = _open_npz(Path(eval_data))
        key = next((k for k in Y_KEYS if k in arrays), None)
        labels = arrays[key] if key else None
    if labels is not None and len(labels) != len(inputs[0]):
        raise UserError(f"{eval_labels or eval_data}: {len(labels)} labels for {len(inputs[0])} evaluation samples")
    return inputs, labels


# --- the pipeline -------------------------------------------------------------------------------------


def convert_model(path: Path, mode: str, *, output: Path | None, rep_data: str | None = None,
                  rep_samples: int = DEFAULT_REP_SAMPLES, io_dtype: str | None = None,
                  eval_data: str | None = None, eval_labels: str | None = None,
                  progress: bool = False, converter: str = "auto") -> ConvertResult:
    """Convert (or pass through) one model; see the module docstring."""
    zoo_spec = str(path) if str(path).startswith(ZOO_PREFIX) else None
    path, kind = resolve_source(Path(path))
    if eval_labels and not eval_data:
        load_eval_set(None, eval_labels, [])  # raises: labels without inputs
    if kind == "tflite":
        return _pass_through(path, output, eval_data, eval_labels)
    io_type = check_mode(mode, io_dtype)
    if mode in ("int8", "int16x8"):
        rep_data = rep_data or zoo_spec
        if not rep_data:
            raise UserError(f"--mode {mode} needs calibration data",
                            hint="pass --rep-data FILE (.npy, .npz, image directory, .csv or module:function)")
    from tinydeploy.convert.worker import ConvertRequest, choose_route

    route = choose_route(path, converter)
    with tempfile.TemporaryDirectory(prefix="tinydeploy-convert-") as tmp:
        request = ConvertRequest(str(path), mode, io_type, str(Path(tmp) / "model.tflite"), rep_data,
                                 rep_samples, route)
        with spinner(f"converting {path.name} ({mode})", enabled=progress):
            converted_by, warnings = _convert_with_fallback(request, kind, converter)
        tflite = Path(request.output).read_bytes()
    model = parse_model(tflite, output)
    from tinydeploy.inspect import inspect_model

    report = inspect_model(model)
    params = converted_by.params
    result = ConvertResult(path, kind, mode, io_type, output, disk_bytes(path),
                           params * 4 if params is not None else None, len(tflite), report.op_counts,
                           warnings=[*warnings, *report.warnings], converter=converted_by.route)
    # The evaluation set is checked against the model before anything is written: a bad --eval-data or
    # --eval-labels leaves no output file behind.
    eval_set = None
    if eval_data:
        specs = [InputSpec(name, shape) for name, shape in converted_by.inputs]
        eval_set = load_eval_set(eval_data, eval_labels, specs)
    if output is not None:
        write_atomic(output, tflite)
    if eval_set is not None:
        result.evaluation = _evaluate_bytes(path, tflite, output, eval_set, progress)
    return result


def _convert_with_fallback(request: Any, kind: str, converter: str) -> tuple[Any, list[str]]:
    """Run the converter; a Keras 3 model it crashes on is retried through legacy Keras (with a warning)."""
    from tinydeploy.convert.worker import ConverterCrashed, run_converter

    try:
        return run_converter(request), []
    except ConverterCrashed as crash:
        if kind != "keras" or request.route != "keras3" or converter != "auto":
            raise ConverterCrashed(crash.message, hint=_crash_hint(request)) from None
        request.route = "legacy"
        try:
            converted = run_converter(request)
        except ConverterCrashed as again:
            raise ConverterCrashed(f"{crash.message}; legacy Keras too: {again.message.split(' converting ')[0]}",
                                   hint=_crash_hint(request)) from None
        return converted, [f"{crash.message}; converted through legacy Keras (tf_keras) instead"]


def _crash_hint(request: Any) -> str:
    if request.route == "legacy":
        return ("try --converter keras3 (recurrent layers unrolled into plain ops), or --mode float32 / dynamic "
                "to see whether the quantizer is at fault")
    if request.route == "keras3":
        return "try --converter legacy (the model rebuilt in tf_keras), or --mode float32 / dynamic"
    return ("convert the Keras model the SavedModel came from (.keras), which tinydeploy can rebuild, or try "
            "--mode float32 / dynamic")


def _evaluate_bytes(source: Path, tflite: bytes, output: Path | None, eval_set: tuple[list[np.ndarray], Any],
                    progress: bool) -> Evaluation:
    with tempfile.TemporaryDirectory() as tmp:
        target = output or Path(tmp) / "converted.tflite"
        if output is None:
            target.write_bytes(tflite)
        return evaluate(source, target, *eval_set, progress=progress)


def _pass_through(path: Path, output: Path | None, eval_data: str | None,
                  eval_labels: str | None) -> ConvertResult:
    from tinydeploy.inspect import inspect_model
    from tinydeploy.model.graph import load_model

    if eval_data or eval_labels:
        raise UserError(f"{path}: --eval-data compares a float model with its conversion; this is already a "
                        ".tflite", hint="convert the .keras/SavedModel with --eval-data, or use deploy verify "
                                        "--labels on the device")
    model = load_model(path)
    report = inspect_model(model)
    if output is not None and output.resolve() != path.resolve():
        write_atomic(output, model.raw)
    io_dtype = model.input_tensors[0].dtype if model.input_tensors else "?"
    return ConvertResult(path, "tflite", "passthrough", io_dtype, output, len(model.raw), None,
                         len(model.raw), report.op_counts, warnings=report.warnings)


__all__ = ["convert_model", "ConvertResult", "Evaluation", "evaluate", "open_source", "resolve_source",
           "load_eval_set", "MODES"]
