"""Host references: run a batch through TFLM's host interpreter, LiteRT (optimized or reference kernels),
or the float model, and get the outputs in the model's own dtype.

    outputs = run_reference("tflm", Path("m.tflite"), x_int8)    # x_int8: (N, *input_shape[1:]) int8
    outputs[0].shape == (N, *output_shape[1:])

`inputs` is either one array (the batch for a single-input model) or a list with one batched array per
model input.  For a single-input model, a list whose length is not 1 is read as a list of samples.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any, Protocol, Sequence

import numpy as np

from tinydeploy.convert.tfenv import captured_stderr_fd
from tinydeploy.errors import UnsupportedOpError, UserError
from tinydeploy.model.graph import Model
from tinydeploy.progress import track

BACKENDS = ("tflm", "litert", "litert-ref", "float")
KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")


class _Runner(Protocol):
    def invoke(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        """One sample: inputs shaped like the model's input tensors (batch 1); outputs likewise."""


# --- input handling -----------------------------------------------------------------------------------


def _as_batches(inputs: np.ndarray | Sequence[np.ndarray], n_inputs: int) -> list[np.ndarray]:
    if isinstance(inputs, np.ndarray):
        return [inputs]
    arrays = [np.asarray(a) for a in inputs]
    if n_inputs == 1 and len(arrays) != 1:  # a list of samples for a single-input model
        return [np.stack(arrays)] if arrays else [np.zeros((0,))]
    return arrays


def _check_batches(batches: list[np.ndarray], specs: list[tuple[str, tuple[int, ...], np.dtype]],
                   where: str) -> int:
    """Check each batch against its input's (name, shape, dtype); returns the batch size."""
    if len(batches) != len(specs):
        raise UserError(f"{where}: the model has {len(specs)} inputs, got {len(batches)} input arrays")
    sizes = set()
    for batch, (name, shape, dtype) in zip(batches, specs):
        sample_shape = tuple(shape[1:])
        if batch.shape[1:] != sample_shape:
            if batch.shape == sample_shape and shape[:1] == (1,):
                raise UserError(f"{where}: input '{name}' needs a batch axis: expected (N, "
                                f"{', '.join(map(str, sample_shape))}), got {batch.shape}")
            raise UserError(f"{where}: input '{name}' expects samples of shape {sample_shape} "
                            f"(batch (N, {', '.join(map(str, sample_shape))})), got an array of shape {batch.shape}")
        if batch.dtype != dtype:
            hint = "quantize with tinydeploy.reference.quantize_input" if np.issubdtype(dtype, np.integer) else None
            raise UserError(f"{where}: input '{name}' expects {np.dtype(dtype).name}, got {batch.dtype.name}",
                            hint=hint)
        sizes.add(len(batch))
    if len(sizes) > 1:
        raise UserError(f"{where}: the input arrays hold different numbers of samples: {sorted(sizes)}")
    return sizes.pop() if sizes else 0


def stack_outputs(per_sample: list[list[np.ndarray]], n_outputs: int) -> list[np.ndarray]:
    """Per-sample outputs (one list per sample) -> one array per output, samples along axis 0."""
    result = []
    for k in range(n_outputs):
        parts = [sample[k] for sample in per_sample]
        if parts and parts[0].ndim and parts[0].shape[0] == 1:
            result.append(np.concatenate(parts, axis=0))
        else:
            result.append(np.stack(parts) if parts else np.zeros((0,)))
    return result


# --- TFLite runners -----------------------------------------------------------------------------------


class _TflmRunner:
    def __init__(self, model: Model) -> None:
        try:
            with captured_stderr_fd():
                from tflite_micro.python.tflite_micro import runtime
        except ImportError as err:
            raise UserError(f"the tflm reference needs the tflite-micro package ({err})",
                            hint="pip install tflite-micro") from None
        activations = sum(t.nbytes for t in model.tensors if not t.is_constant)
        arena = 10 * len(model.raw) + 2 * activations + (256 << 10)
        try:
            self.interp = runtime.Interpreter.from_bytes(model.raw, arena_size=arena)
        except (RuntimeError, ValueError) as err:
            raise _runtime_error(model, "tflm", err) from None
        self.n_outputs = len(model.outputs)
        # Reset() after each sample makes samples independent (variable tensors back to zero).  A model with
        # resource variables (tf.Variable: VAR_HANDLE) keeps state across invokes on purpose, and TFLM's
        # Reset() would zero those variables without rerunning their CALL_ONCE initializer, which no device
        # does (firmware never resets between invokes): such a model runs its samples as one sequence.
        self.stateful = any(op.opcode == "VAR_HANDLE" for op in model.operators)

    def invoke(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        for i, x in enumerate(inputs):
            self.interp.set_input(np.ascontiguousarray(x), i)
        self.interp.invoke()
        outputs = [np.array(self.interp.get_output(k)) for k in range(self.n_outputs)]
        if not self.stateful:
            self.interp.reset()
        return outputs


class _LiteRTRunner:
    def __init__(self, model: Model, reference_kernels: bool) -> None:
        try:
            with captured_stderr_fd():
                from ai_edge_litert.interpreter import Interpreter, OpResolverType
        except ImportError as err:
            raise UserError(f"the litert reference needs the ai-edge-litert package ({err})",
                            hint="pip install ai-edge-litert") from None
        # BUILTIN_REF selects TFLite's reference kernels (no XNNPACK, no optimized_ops); BUILTIN the default
        # optimized kernels.
        resolver = OpResolverType.BUILTIN_REF if reference_kernels else OpResolverType.BUILTIN
        name = "litert-ref" if reference_kernels else "litert"
        try:
            with captured_stderr_fd():  # "Created TensorFlow Lite XNNPACK delegate" and friends
                self.interp = Interpreter(model_content=model.raw, num_threads=1,
                                          experimental_op_resolver_type=resolver)
                self.interp.allocate_tensors()
        except (RuntimeError, ValueError) as err:
            raise _runtime_error(model, name, err) from None
        self.inputs = [d["index"] for d in self.interp.get_input_details()]
        self.outputs = [d["index"] for d in self.interp.get_output_details()]

    def invoke(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        for index, x in zip(self.inputs, inputs):
            self.interp.set_tensor(index, np.ascontiguousarray(x))
        self.interp.invoke()
        return [np.array(self.interp.get_tensor(index)) for index in self.outputs]


def _runtime_error(model: Model, backend: str, err: Exception) -> UserError:
    from tinydeploy.inspect import describe_op, unsupported_by_builtin_resolver

    text = " ".join(str(err).split())
    bad = unsupported_by_builtin_resolver(model)
    if bad:
        op = bad[0]
        return UnsupportedOpError(f"{model.path or 'model'}: the {backend} reference cannot run "
                                  f"{describe_op(model, op)}", hint="replace that layer and convert again")
    return UserError(f"{model.path or 'model'}: the {backend} reference failed to load the model: {text[:300]}")


# --- float Keras / SavedModel runner ------------------------------------------------------------------


class _KerasRunner:
    def __init__(self, model: Any, where: str) -> None:
        self.model = model
        self.where = where
        self.specs = [(t.name, tuple(1 if d is None else int(d) for d in t.shape), np.dtype("float32"))
                      for t in model.inputs]

    def invoke(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        result = self.model(inputs if len(inputs) > 1 else inputs[0], training=False)
        outs = result if isinstance(result, (list, tuple)) else [result]
        return [np.asarray(o) for o in outs]


class _SavedModelRunner:
    def __init__(self, path: Path) -> None:
        from tinydeploy.convert.tfenv import import_tf

        tf = import_tf()
        loaded = tf.saved_model.load(str(path))
        try:
            self.fn = loaded.signatures["serving_default"]
        except KeyError:
            raise UserError(f"{path}: the SavedModel has no 'serving_default' signature") from None
        _, kwargs = self.fn.structured_input_signature
        self.names = sorted(kwargs)
        self.specs = [(n, tuple(1 if d is None else int(d) for d in kwargs[n].shape), np.dtype("float32"))
                      for n in self.names]
        self.out_names = sorted(self.fn.structured_outputs)

    def invoke(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        result = self.fn(**dict(zip(self.names, inputs)))
        return [np.asarray(result[n]) for n in self.out_names]


def load_keras(path: Path) -> Any:
    """Load a .keras/.h5 model for inference (UserError naming the file when it cannot be read)."""
    from tinydeploy.convert.tfenv import import_keras

    keras = import_keras()
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return keras.models.load_model(str(path), compile=False)
    except Exception as err:  # keras raises ValueError, OSError, zipfile errors, ... for unreadable files
        text = " ".join(str(err).split()) or type(err).__name__
        if "Lambda" in text:
            raise UserError(f"{path}: the model has a Lambda layer (Python code), which is not loaded for safety",
                            hint="replace the Lambda with standard Keras layers") from None
        raise UserError(f"{path}: cannot load the Keras model ({text[:200]})",
                        hint="is the file complete? re-save it with model.save('model.keras')") from None


# --- the one entry point ------------------------------------------------------------------------------


def _tflite_specs(model: Model) -> list[tuple[str, tuple[int, ...], np.dtype]]:
    return [(t.name, t.shape, t.numpy_dtype) for t in model.input_tensors]


def open_tflite_runner(backend: str, graph: Model) -> _Runner:
    """The in-process runner of a .tflite backend (used inside the reference worker process)."""
    if backend == "tflm":
        return _TflmRunner(graph)
    return _LiteRTRunner(graph, reference_kernels=backend == "litert-ref")


def _open(backend: str, model: Any) -> tuple[_Runner | Model, list, str, int]:
    """(runner, input specs, name for messages, number of outputs); a .tflite backend gets the parsed Model
    instead of a runner: it runs in the reference worker."""
    if backend not in BACKENDS:
        raise UserError(f"unknown reference backend '{backend}'", hint=f"use one of: {', '.join(BACKENDS)}")
    if not isinstance(model, (str, Path)):  # an in-memory Keras model
        if backend != "float":
            raise UserError(f"the {backend} reference runs .tflite files; pass a path")
        runner = _KerasRunner(model, "keras model")
        return runner, runner.specs, "keras model", len(model.outputs)
    path = Path(model)
    if backend == "float" and (path.suffix in KERAS_SUFFIXES or path.is_dir()):
        if not path.exists():
            raise UserError(f"{path}: no such file")
        if path.is_dir():
            runner = _SavedModelRunner(path)
            return runner, runner.specs, str(path), len(runner.out_names)
        keras_model = load_keras(path)
        runner = _KerasRunner(keras_model, str(path))
        return runner, runner.specs, str(path), len(keras_model.outputs)
    from tinydeploy.model.graph import load_model

    graph = load_model(path)
    if backend == "float":
        quantized = [t for t in graph.input_tensors + graph.output_tensors if t.dtype != "float32"]
        if quantized:
            raise UserError(f"{path}: tensor '{quantized[0].name}' is {quantized[0].dtype}; the float reference "
                            "needs the float model", hint="pass the .keras file or a --mode float32 conversion")
    _check_runtime_installed(backend)
    return graph, _tflite_specs(graph), str(path), len(graph.outputs)


def _check_runtime_installed(backend: str) -> None:
    """Fail in the parent, with the install hint, when the worker could not import its runtime."""
    import importlib.util

    package, pip_name = ("tflite_micro", "tflite-micro") if backend == "tflm" else ("ai_edge_litert", "ai-edge-litert")
    if importlib.util.find_spec(package) is None:
        raise UserError(f"the {backend} reference needs the {pip_name} package", hint=f"pip install {pip_name}")


def run_reference(backend: str, model: Path | str | Any, inputs: np.ndarray | Sequence[np.ndarray], *,
                  progress: bool = False) -> list[np.ndarray]:
    """Run a batch through one reference; one output array per model output, batch along axis 0.

    backend: "tflm" (TFLM host interpreter, the exactness reference), "litert" (LiteRT's default optimized
    kernels), "litert-ref" (LiteRT's reference kernels) or "float" (a float .tflite, a .keras/.h5 file, a
    SavedModel directory or an in-memory Keras model; float inputs).
    Inputs must already be in the model's input dtype (see `quantize_input`).
    """
    runner, specs, where, n_outputs = _open(backend, model)
    batches = _as_batches(inputs, len(specs))
    batches = [b.astype(np.float32) if b.dtype == np.float64 and spec[2] == np.float32 else b
               for b, spec in zip(batches, specs)]  # numpy's default float is a harmless mismatch
    count = _check_batches(batches, specs, where)
    batched_axis = [spec[1][:1] == (1,) for spec in specs]
    if isinstance(runner, Model):  # a .tflite runtime: in a worker process, where its crash cannot reach us
        from tinydeploy.reference.worker import run_in_worker

        return run_in_worker(backend, runner, batches, count, batched_axis=batched_axis, progress=progress)
    per_sample = []
    for i in track(range(count), f"reference {backend}", enabled=progress):
        sample = [b[i : i + 1] if one else b[i] for b, one in zip(batches, batched_axis)]
        per_sample.append(runner.invoke(sample))
    return stack_outputs(per_sample, n_outputs)
