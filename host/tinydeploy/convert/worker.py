"""The TFLite converter in a child process, so that its crashes become one-line errors.

TensorFlow's converter is C++ and does crash: TF 2.21 segfaults on Keras 3 LSTM/GRU in full int8 (exit 139,
no message).  In-process, that takes `deploy convert` down with nothing said; here the parent sees the
signal and reports it, naming the model, the mode and what to try.

    result = run_converter(ConvertRequest(source="m.keras", mode="int8", io_dtype="int8", output="out.tflite",
                                          rep_data="calib.npy", route="keras3"))

Routes (chosen by `choose_route`, or `--converter`):
  keras3      Keras 3 model, rebuilt with batch size 1 (recurrent layers other than LSTM unrolled: static
              time steps, plain ops every runtime has)
  legacy      the model rebuilt in tf_keras (TF_USE_LEGACY_KERAS=1): an LSTM becomes the fused
              UNIDIRECTIONAL_SEQUENCE_LSTM builtin
  savedmodel  the serving signature traced with batch size 1, variables frozen

Request and result travel as JSON files; the result is {"ok": true, "inputs": [[name, shape], ...],
"params": N, "route": ...} or {"ok": false, "error": ..., "hint": ..., "unsupported_op": bool}.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tinydeploy.errors import UnsupportedOpError, UserError

ROUTES = ("keras3", "legacy", "savedmodel")
CONVERTER_CHOICES = ("auto", "keras3", "legacy")
DEFAULT_TIMEOUT_S = 1800.0
# Recurrent layers unrolled over their (static) time steps into plain ops.  Legacy Keras keeps LSTMs whole
# (the fused UNIDIRECTIONAL_SEQUENCE_LSTM builtin); GRU and SimpleRNN have no fused builtin anywhere.
UNROLLED_LAYERS = {"keras3": ("LSTM", "GRU", "SimpleRNN"), "legacy": ("GRU", "SimpleRNN")}


@dataclass
class ConvertRequest:
    source: str
    mode: str
    io_dtype: str
    output: str
    rep_data: str | None = None
    rep_samples: int = 200
    route: str = "keras3"


@dataclass
class ConvertedModel:
    route: str
    inputs: list[tuple[str, tuple[int, ...]]]  # name, shape without the batch dimension
    params: int | None


class ConverterCrashed(UserError):
    """The converter process died from a signal (or without a result)."""


# --- parent side --------------------------------------------------------------------------------------


def choose_route(path: Path, converter: str = "auto") -> str:
    """The route for a model: SavedModels their own, LSTMs legacy Keras (fused op), the rest Keras 3."""
    if converter not in CONVERTER_CHOICES:
        raise UserError(f"unknown --converter '{converter}'", hint=f"use one of: {', '.join(CONVERTER_CHOICES)}")
    if path.is_dir():
        if converter != "auto":
            raise UserError(f"--converter {converter} applies to Keras model files; {path} is a SavedModel",
                            hint="drop --converter, or convert the .keras file the SavedModel came from")
        return "savedmodel"
    if converter != "auto":
        return converter
    from tinydeploy.convert.legacy import recurrent_layers

    return "legacy" if "LSTM" in recurrent_layers(path) else "keras3"


def _worker_env(route: str) -> dict[str, str]:
    from tinydeploy.convert.tfenv import QUIET_ENV

    env = dict(os.environ, **{k: os.environ.get(k, v) for k, v in QUIET_ENV.items()})
    if route == "legacy":
        env["TF_USE_LEGACY_KERAS"] = "1"
    else:
        env.pop("TF_USE_LEGACY_KERAS", None)
    host_dir = str(Path(__file__).resolve().parents[2])  # so the worker imports this very tinydeploy
    env["PYTHONPATH"] = host_dir + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _signal_name(returncode: int) -> str:
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"


def run_converter(request: ConvertRequest, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> ConvertedModel:
    """Convert in a child process; raises the worker's UserError, or ConverterCrashed when it died."""
    with tempfile.TemporaryDirectory(prefix="tinydeploy-convert-") as tmp:
        req_path, result_path = Path(tmp) / "request.json", Path(tmp) / "result.json"
        req_path.write_text(json.dumps({**asdict(request), "result": str(result_path)}))
        what = f"{request.source} (--mode {request.mode}, {request.route} converter)"
        try:
            proc = subprocess.run([sys.executable, "-m", "tinydeploy.convert.worker", str(req_path)],
                                  env=_worker_env(request.route), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, errors="replace", timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise UserError(f"converting {what} did not finish within {timeout_s:.0f} s") from None
        if not result_path.exists():
            raise ConverterCrashed(_crash_message(what, proc))
        result = json.loads(result_path.read_text())
    if not result.get("ok"):
        cls = UnsupportedOpError if result.get("unsupported_op") else UserError
        raise cls(result.get("error", "conversion failed"), hint=result.get("hint"))
    return ConvertedModel(result["route"], [(name, tuple(shape)) for name, shape in result["inputs"]],
                          result.get("params"))


def _crash_message(what: str, proc: subprocess.CompletedProcess) -> str:
    if proc.returncode < 0:
        cause = f"crashed ({_signal_name(proc.returncode)})"
    else:
        lines = [ln.strip() for ln in (proc.stderr or "").splitlines() if ln.strip()]
        cause = f"died (exit {proc.returncode}{': ' + lines[-1][:200] if lines else ''})"
    return f"the TensorFlow converter {cause} converting {what}"


# --- worker side --------------------------------------------------------------------------------------


def _unroll_recurrent(model: Any) -> None:
    """Unroll recurrent layers (Keras reads `unroll` at call time) so the converter emits plain ops instead
    of a WHILE loop, which TF 2.21 crashes on in int8."""
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if type(layer).__name__ in UNROLLED_LAYERS["keras3"] and hasattr(layer, "unroll"):
            layer.unroll = True


def _convert_keras3(request: ConvertRequest) -> tuple[bytes, list[tuple[str, tuple[int, ...]]], int]:
    from tinydeploy.convert.pipeline import keras_input_specs, with_batch_one
    from tinydeploy.convert.tfenv import import_keras
    from tinydeploy.convert.tflite import keras_to_tflite
    from tinydeploy.reference import load_keras

    keras = import_keras()
    original = load_keras(Path(request.source))
    _unroll_recurrent(original)
    model = with_batch_one(keras, original)
    specs = keras_input_specs(model)
    calibration = _calibration(request, specs)
    tflite = keras_to_tflite(model, request.mode, calibration=calibration, io_dtype=request.io_dtype,
                             what=request.source)
    return tflite, [(s.name, s.shape) for s in specs], int(model.count_params())


def _convert_legacy(request: ConvertRequest) -> tuple[bytes, list[tuple[str, tuple[int, ...]]], int]:
    from tinydeploy.convert.data import InputSpec
    from tinydeploy.convert.legacy import load_as_tf_keras
    from tinydeploy.convert.tfenv import captured_stderr_fd, import_tf
    from tinydeploy.convert.tflite import keras_to_tflite

    import_tf()
    with captured_stderr_fd():
        import tf_keras as tfk
    model = load_as_tf_keras(Path(request.source), tfk, batch_size=1, purpose="legacy Keras conversion",
                             unroll=UNROLLED_LAYERS["legacy"])
    specs = [InputSpec(t.name.split(":")[0], tuple(int(d) for d in t.shape[1:])) for t in model.inputs]
    calibration = _calibration(request, specs)
    tflite = keras_to_tflite(model, request.mode, calibration=calibration, io_dtype=request.io_dtype,
                             what=request.source)
    return tflite, [(s.name, s.shape) for s in specs], int(model.count_params())


def _convert_saved_model(request: ConvertRequest) -> tuple[bytes, list[tuple[str, tuple[int, ...]]], None]:
    from tinydeploy.convert.data import InputSpec
    from tinydeploy.convert.tfenv import import_tf
    from tinydeploy.convert.tflite import saved_model_signature, saved_model_to_tflite, signature_inputs

    path = Path(request.source)
    _, signature = saved_model_signature(import_tf(), path)
    specs = [InputSpec(name, shape) for name, shape, _ in signature_inputs(path, signature)]
    calibration = _calibration(request, specs)
    tflite = saved_model_to_tflite(path, request.mode, calibration=calibration, io_dtype=request.io_dtype)
    return tflite, [(s.name, s.shape) for s in specs], None


def _calibration(request: ConvertRequest, specs: list[Any]) -> Any:
    if request.mode not in ("int8", "int16x8"):
        return None
    from tinydeploy.convert.data import load_inputs

    if not request.rep_data:
        raise UserError(f"--mode {request.mode} needs calibration data",
                        hint="pass --rep-data FILE (.npy, .npz, image directory, .csv or module:function)")
    return load_inputs(request.rep_data, specs, limit=request.rep_samples)


_ROUTE_FUNCTIONS = {"keras3": _convert_keras3, "legacy": _convert_legacy, "savedmodel": _convert_saved_model}


def worker(request: ConvertRequest) -> dict[str, Any]:
    if request.route not in ROUTES:
        raise UserError(f"unknown conversion route '{request.route}'")
    if request.route == "legacy" and os.environ.get("TF_USE_LEGACY_KERAS") != "1":
        raise UserError("the legacy converter needs TF_USE_LEGACY_KERAS=1 (start it with run_converter)")
    tflite, inputs, params = _ROUTE_FUNCTIONS[request.route](request)
    Path(request.output).write_bytes(tflite)
    return {"ok": True, "route": request.route, "inputs": [[n, list(s)] for n, s in inputs], "params": params}


def main(argv: list[str]) -> int:
    raw = json.loads(Path(argv[0]).read_text())
    result_path = Path(raw.pop("result"))
    try:
        result = worker(ConvertRequest(**raw))
    except UserError as err:
        result = {"ok": False, "error": err.message, "hint": err.hint,
                  "unsupported_op": isinstance(err, UnsupportedOpError)}
    except Exception as err:  # a bug, but the parent still gets one clear line
        result = {"ok": False, "error": f"converting {raw.get('source')} failed: {type(err).__name__}: "
                                        f"{' '.join(str(err).split())[:300]}"}
    result_path.write_text(json.dumps(result))
    return 0 if result.get("ok") else 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
