"""`deploy convert` as a function: model in, checked .tflite out, with a report of what changed.

    result = convert_model(Path("model.keras"), "int8", rep_data="calib.npz", output=Path("m.tflite"),
                           eval_data="test.npz", eval_labels="test.npz")
    result.size_after, result.ops, result.evaluation.top1_agreement

Inputs: a Keras `.keras`/`.h5` file, a SavedModel directory, or a `.tflite` (checked and passed through).
The output appears atomically, and only after the model parsed and every op has a runtime: a failed run
never leaves a file behind.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tinydeploy.convert.data import InputSpec, load_inputs, load_labels
from tinydeploy.convert.tflite import MODES, check_mode
from tinydeploy.errors import UnsupportedOpError, UserError
from tinydeploy.files import write_atomic
from tinydeploy.model.graph import Model, parse_model
from tinydeploy.progress import spinner

KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")
ZOO_PREFIX = "zoo:"  # `deploy convert zoo:digits_cnn`: a model of tinydeploy.zoo, calibrated with its own data
DEFAULT_REP_SAMPLES = 200


@dataclass
class Evaluation:
    samples: int
    backend: str  # which reference ran the converted model
    top1_agreement: float | None  # argmax(float) == argmax(converted), classification outputs only
    float_accuracy: float | None  # with labels
    converted_accuracy: float | None
    max_abs_error: float
    mean_abs_error: float
    cosine_similarity: float  # mean over samples of cos(float output, dequantized output)


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
        if self.path.is_dir():
            return sum(p.stat().st_size for p in self.path.rglob("*") if p.is_file())
        return self.path.stat().st_size


def _with_batch_one(keras: Any, model: Any) -> Any:
    """Rebuild a model whose inputs have an unknown batch size with batch size 1 (else the converter emits
    dynamic-shape ops a micro runtime cannot run)."""
    if all(t.shape[0] == 1 for t in model.inputs):
        return model
    new_inputs = [keras.Input(tuple(t.shape[1:]), batch_size=1, name=t.name.split(":")[0], dtype=t.dtype)
                  for t in model.inputs]
    outputs = model(new_inputs if len(new_inputs) > 1 else new_inputs[0])
    return keras.Model(new_inputs, outputs, name=model.name)


def _keras_specs(model: Any) -> list[InputSpec]:
    specs = []
    for t in model.inputs:
        shape = tuple(int(d) if d is not None else -1 for d in t.shape[1:])
        if -1 in shape:
            raise UserError(f"input '{t.name}' has an unknown dimension {tuple(t.shape)}: micro runtimes need "
                            "static shapes", hint="give the keras.Input a full shape")
        specs.append(InputSpec(t.name, shape))
    return specs


def open_source(path: Path) -> Source:
    """Identify and load the model at `path` (UserError naming it if it is missing or unreadable)."""
    if str(path).startswith(ZOO_PREFIX):
        from tinydeploy import zoo

        path = zoo.keras_path(str(path)[len(ZOO_PREFIX):])
    if not path.exists():
        raise UserError(f"{path}: no such file or directory")
    if path.is_dir():
        if not (path / "saved_model.pb").exists():
            raise UserError(f"{path}: a directory but not a SavedModel (no saved_model.pb)")
        from tinydeploy.convert.tfenv import import_tf

        tf = import_tf()
        try:
            loaded = tf.saved_model.load(str(path))
            sig = loaded.signatures["serving_default"]
        except Exception as err:
            raise UserError(f"{path}: cannot load the SavedModel ({' '.join(str(err).split())[:200]})") from None
        _, kwargs = sig.structured_input_signature
        specs = []
        for name in sorted(kwargs):
            dims = tuple(kwargs[name].shape)
            if any(d is None for d in dims[1:]):
                raise UserError(f"{path}: input '{name}' has an unknown dimension {dims}: micro runtimes need "
                                "static shapes")
            specs.append(InputSpec(name, tuple(int(d) for d in dims[1:])))
        return Source(path, "savedmodel", inputs=specs)
    suffix = path.suffix.lower()
    if suffix == ".tflite":
        return Source(path, "tflite")
    if suffix in KERAS_SUFFIXES:
        from tinydeploy.convert.tfenv import import_keras
        from tinydeploy.reference import load_keras

        keras = import_keras()
        model = _with_batch_one(keras, load_keras(path))
        return Source(path, "keras", keras_model=model, inputs=_keras_specs(model))
    raise UserError(f"{path}: unknown model format '{suffix}'",
                    hint="pass a .keras or .h5 file, a SavedModel directory or a .tflite file")


# --- writing and checking -----------------------------------------------------------------------------


def check_runnable(model: Model, where: str) -> None:
    """Fail on ops that no runtime can execute (custom ops, builtins neither aot nor tflm knows)."""
    from tinydeploy.inspect import describe_op, unsupported_everywhere

    bad = unsupported_everywhere(model)
    if bad:
        names = sorted({op.opcode for op in bad})
        raise UnsupportedOpError(f"{where}: no runtime supports {describe_op(model, bad[0])}"
                                 + (f" (also: {', '.join(n for n in names if n != bad[0].opcode)})"
                                    if len(names) > 1 else ""),
                                 hint="replace that layer with supported ops and convert again")


# --- evaluation ---------------------------------------------------------------------------------------


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    a2, b2 = a.reshape(len(a), -1).astype(np.float64), b.reshape(len(b), -1).astype(np.float64)
    norms = np.linalg.norm(a2, axis=1) * np.linalg.norm(b2, axis=1)
    dots = (a2 * b2).sum(axis=1)
    cos = np.where(norms > 0, dots / np.where(norms > 0, norms, 1), np.where(np.allclose(a2, b2), 1.0, 0.0))
    return float(cos.mean())


def evaluate(float_model: Any, tflite_path: Path, inputs: list[np.ndarray], labels: np.ndarray | None,
             *, progress: bool = False) -> Evaluation:
    """Compare the float model with the converted one on the same float inputs (first output)."""
    from tinydeploy.model.graph import load_model
    from tinydeploy.reference import dequantize_output, quantize_input, run_reference

    converted = load_model(tflite_path)
    float_out = run_reference("float", float_model, inputs, progress=progress)[0]
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
    conv_out = dequantize_output(raw, converted.output_tensors[0])
    float_out = float_out.astype(np.float32).reshape(conv_out.shape)
    diff = np.abs(float_out - conv_out)
    classification = conv_out.ndim == 2 and conv_out.shape[1] > 1
    agreement = float_acc = conv_acc = None
    if classification:
        agreement = float((float_out.argmax(1) == conv_out.argmax(1)).mean())
        if labels is not None:
            float_acc = float((float_out.argmax(1) == labels).mean())
            conv_acc = float((conv_out.argmax(1) == labels).mean())
    return Evaluation(len(conv_out), backend, agreement, float_acc, conv_acc, float(diff.max()),
                      float(diff.mean()), _cosine(float_out, conv_out))


def load_eval_set(eval_data: str, eval_labels: str | None,
                  specs: list[InputSpec]) -> tuple[list[np.ndarray], np.ndarray | None]:
    """Evaluation inputs (checked against the model) and labels (from --eval-labels, or 'y' in the .npz)."""
    inputs = load_inputs(eval_data, specs, what="evaluation data")
    labels = None
    if eval_labels:
        labels = load_labels(eval_labels, len(inputs[0]))
    elif eval_data.endswith(".npz"):  # x and y in one file
        with contextlib.suppress(UserError):
            labels = load_labels(eval_data, len(inputs[0]))
    return inputs, labels


# --- the pipeline -------------------------------------------------------------------------------------


def convert_model(path: Path, mode: str, *, output: Path | None, rep_data: str | None = None,
                  rep_samples: int = DEFAULT_REP_SAMPLES, io_dtype: str | None = None,
                  eval_data: str | None = None, eval_labels: str | None = None,
                  progress: bool = False) -> ConvertResult:
    """Convert (or pass through) one model; see the module docstring."""
    from tinydeploy.inspect import inspect_model

    zoo_spec = str(path) if str(path).startswith(ZOO_PREFIX) else None
    source = open_source(Path(path))
    path = source.path
    if source.kind == "tflite":
        return _pass_through(source, output)
    io_type = check_mode(mode, io_dtype)
    calibration = None
    if mode in ("int8", "int16x8"):
        if not rep_data and zoo_spec:
            rep_data = zoo_spec
        if not rep_data:
            raise UserError(f"--mode {mode} needs calibration data",
                            hint="pass --rep-data FILE (.npy, .npz, image directory, .csv or module:function)")
        calibration = load_inputs(rep_data, source.inputs, limit=rep_samples)
    evaluation_set = load_eval_set(eval_data, eval_labels, source.inputs) if eval_data else None

    with spinner(f"converting {path.name} ({mode})", enabled=progress):
        tflite = _convert(source, mode, calibration, io_type)
    converted = parse_model(tflite, output)
    check_runnable(converted, str(output or path))
    float_weights = int(source.keras_model.count_params()) * 4 if source.keras_model is not None else None
    result = ConvertResult(Path(path), source.kind, mode, io_type, output, source.disk_bytes, float_weights,
                           len(tflite), dict(Counter(op.opcode for op in converted.operators)),
                           warnings=inspect_model(converted).warnings)
    if output is not None:
        write_atomic(output, tflite)
    if evaluation_set is not None:
        float_model = source.keras_model if source.keras_model is not None else source.path
        with tempfile.TemporaryDirectory() as tmp:
            target = output or Path(tmp) / "converted.tflite"
            if output is None:
                target.write_bytes(tflite)
            result.evaluation = evaluate(float_model, target, *evaluation_set, progress=progress)
    return result


def _convert(source: Source, mode: str, calibration: list[np.ndarray] | None, io_type: str) -> bytes:
    from tinydeploy.convert.tflite import keras_to_tflite, saved_model_to_tflite

    if source.kind == "keras":
        return keras_to_tflite(source.keras_model, mode, calibration=calibration, io_dtype=io_type,
                               what=str(source.path))
    return saved_model_to_tflite(source.path, mode, calibration=calibration, io_dtype=io_type)


def _pass_through(source: Source, output: Path | None) -> ConvertResult:
    from tinydeploy.inspect import inspect_model
    from tinydeploy.model.graph import load_model

    model = load_model(source.path)
    check_runnable(model, str(source.path))
    report = inspect_model(model)
    if output is not None and output.resolve() != source.path.resolve():
        write_atomic(output, model.raw)
    io_dtype = model.input_tensors[0].dtype if model.input_tensors else "?"
    return ConvertResult(source.path, "tflite", "passthrough", io_dtype, output, len(model.raw), None,
                         len(model.raw), report.op_counts, warnings=report.warnings)


__all__ = ["convert_model", "ConvertResult", "Evaluation", "evaluate", "open_source",
           "check_runnable", "MODES"]
