"""Run a .tflite host reference (TFLM, LiteRT) in a child process, so that its crash cannot take `deploy` down.

TFLM's host interpreter aborts (SIGABRT from a TF_LITE_ASSERT / TFLITE_CHECK in a kernel's Prepare, e.g. a
SOFTMAX whose input scale is out of range) or segfaults on some models, and it does so inside the Python
process.  Here one worker process runs the whole batch (not one per sample: start-up is paid once):

    parent                                      child (python -m tinydeploy.reference.worker DIR)
    DIR/request.json, DIR/inputs.npz   ---->    load the model, run every sample
    progress lines on the child's stdout <--    {"stage": "load"}, {"stage": "sample", "i": 3}, ...
    DIR/outputs.npz, or an error line  <----    {"error": ..., "hint": ..., "unsupported": bool}

A crash (a signal, or an exit without a result) becomes a `ReferenceCrash` naming the model, the signal, the
stage (loading or which sample) and the op most likely at fault when a static check can tell; a hang is
ended after a timeout.  Both are UserErrors carrying what a report needs (`backend`, `signal`, `op`).
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np

from tinydeploy.errors import UnsupportedOpError, UserError
from tinydeploy.model.graph import Model, Operator
from tinydeploy.progress import track

# Worker backends: the .tflite runtimes; the float Keras/SavedModel references stay in process (loading
# TensorFlow in a child would cost seconds per run, and TensorFlow does not abort on a model it loaded).
WORKER_BACKENDS = ("tflm", "litert", "litert-ref", "float")
START_TIMEOUT_S = 120.0  # import + load + Prepare
PER_SAMPLE_TIMEOUT_S = 10.0
TIMEOUT_ENV = "TINYDEPLOY_REFERENCE_TIMEOUT"  # overrides the whole budget, in seconds


class ReferenceCrash(UserError):
    """A host reference process died (signal or exit without a result) or hung."""

    def __init__(self, message: str, *, backend: str, sig: str | None, op: str | None, hint: str | None = None
                 ) -> None:
        super().__init__(message, hint=hint)
        self.backend = backend
        self.signal = sig
        self.op = op


# --- parent side ---------------------------------------------------------------------------------------


def run_in_worker(backend: str, model: Model, batches: list[np.ndarray], count: int, *, batched_axis: list[bool],
                  progress: bool = False) -> list[np.ndarray]:
    """Run `count` samples of `batches` through `backend` in a child process; one output array per model
    output, samples along axis 0 (as run_reference returns them)."""
    with tempfile.TemporaryDirectory(prefix="td-ref-") as tmp:
        work = Path(tmp)
        model_file = Path(model.path) if model.path and Path(model.path).is_file() else work / "model.tflite"
        if model_file.parent == work:
            model_file.write_bytes(model.raw)
        (work / "request.json").write_text(json.dumps({
            "backend": backend, "model": str(model_file), "count": count, "batched_axis": batched_axis}))
        np.savez(work / "inputs.npz", *batches)
        stage, error = _drive(work, model, count, backend, progress)
        if error is not None:
            raise error
        result = work / "outputs.npz"
        if not result.is_file():
            raise _crash(model, backend, None, stage, "exited without a result")
        with np.load(result) as data:
            return [data[f"arr_{k}"] for k in range(len(data.files))]


def _timeout(count: int) -> float:
    override = os.environ.get(TIMEOUT_ENV)
    if override:
        try:
            value = float(override)
            if math.isfinite(value) and value > 0:
                return value
        except ValueError:
            pass
    return START_TIMEOUT_S + PER_SAMPLE_TIMEOUT_S * count


def _drive(work: Path, model: Model, count: int, backend: str, progress: bool
           ) -> tuple[dict[str, Any], UserError | None]:
    """Start the child, follow its progress lines, enforce the timeout; (last stage, error to raise)."""
    where = str(model.path or "model")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONFAULTHANDLER": ""}
    stderr_path = work / "stderr.txt"
    with open(stderr_path, "wb") as err_file:
        proc = subprocess.Popen([sys.executable, "-m", "tinydeploy.reference.worker", str(work)],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err_file, env=env)
    timed_out = threading.Event()

    def expire() -> None:
        timed_out.set()
        proc.kill()

    limit = _timeout(count)
    timer = threading.Timer(limit, expire)
    timer.daemon = True
    timer.start()
    stage: dict[str, Any] = {"stage": "start"}
    error: UserError | None = None
    try:
        assert proc.stdout is not None
        bar = iter(track(range(count), f"reference {backend}", enabled=progress))
        for raw_line in proc.stdout:
            try:
                msg = json.loads(raw_line)
            except ValueError:
                continue
            if "error" in msg:
                cls = UnsupportedOpError if msg.get("unsupported") else UserError
                error = cls(msg["error"], hint=msg.get("hint"))
            elif msg.get("stage") == "done":
                next(bar, None)
                stage = msg
            else:
                stage = msg
        proc.wait()
    finally:  # Ctrl-C or any error in the parent: the child must not outlive it
        timer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if error is not None:
        return stage, error
    if timed_out.is_set():
        return stage, ReferenceCrash(
            f"{where}: the {backend} reference did not finish within {limit:.0f} s ({_stage_text(stage)}); stopped it",
            backend=backend, sig=None, op=None, hint=f"a slow host? raise the limit with {TIMEOUT_ENV}=SECONDS")
    if proc.returncode != 0:
        tail = stderr_path.read_text(errors="replace").strip().splitlines()[-1:] if stderr_path.exists() else []
        return stage, _crash(model, backend, proc.returncode, stage, tail[0] if tail else "")
    return stage, None


def _stage_text(stage: dict[str, Any]) -> str:
    if stage.get("stage") in ("sample", "done"):
        return f"while running sample {int(stage.get('i', 0))}"
    if stage.get("stage") == "load":
        return "while loading the model (its kernels' Prepare)"
    return "while starting"


def _crash(model: Model, backend: str, returncode: int | None, stage: dict[str, Any], detail: str
           ) -> ReferenceCrash:
    sig = None
    if returncode is not None and returncode < 0:
        try:
            sig = signal.Signals(-returncode).name
        except ValueError:
            sig = f"signal {-returncode}"
    how = f"crashed with {sig}" if sig else (f"exited with status {returncode}" if returncode else detail)
    suspect = suspect_op(model)
    op_text = f"; the likely cause: {suspect[0]}: {suspect[1]}" if suspect else ""
    last = f" (last message: {detail[:160]})" if detail and sig and not suspect else ""
    name = {"tflm": "TFLM host interpreter", "litert": "LiteRT", "litert-ref": "LiteRT reference kernels",
            "float": "LiteRT (float model)"}.get(backend, backend)
    return ReferenceCrash(
        f"{model.path or 'model'}: the {backend} reference ({name}) {how} {_stage_text(stage)}{op_text}{last}",
        backend=backend, sig=sig, op=suspect[0] if suspect else None,
        hint="re-convert the model" + ("; TFLM on a board stops at the same check" if backend == "tflm" else ""))


# --- which op would a runtime abort on? ----------------------------------------------------------------


def _scale(model: Model, index: int) -> float | None:
    if index < 0:
        return None
    q = model.tensors[index].quant
    return float(q.scale[0]) if q is not None and q.scale.size else None


def _softmax_problem(model: Model, op: Operator) -> str | None:
    """TFLM's int8 softmax: PreprocessSoftmaxScaling needs beta * input_scale * 2^26 > 1
    (QuantizeMultiplierGreaterThanOne aborts otherwise)."""
    x = model.tensors[op.inputs[0]] if op.inputs and op.inputs[0] >= 0 else None
    s = _scale(model, op.inputs[0]) if x is not None else None
    if x is None or s is None or x.dtype != "int8":
        return None
    beta = float(op.options.get("beta", 1.0))
    if not beta * s * float(1 << 26) > 1.0:
        return f"input scale {s:g} (beta {beta:g}) is below what TFLM's int8 softmax accepts (> {2.0 ** -26 / max(beta, 1e-30):.3g})"
    return None


def _multiplier_problem(model: Model, op: Operator) -> str | None:
    """Any quantized op: an input/output scale ratio whose fixed-point multiplier does not fit 32 bits."""
    s_in = _scale(model, op.inputs[0]) if op.inputs else None
    s_out = _scale(model, op.outputs[0]) if op.outputs else None
    if s_in is None or s_out is None:
        return None
    ratio = s_in / s_out
    if ratio >= 2.0 ** 31 or ratio <= 2.0 ** -31:
        return f"input/output scale ratio {ratio:.3g} does not fit a 32-bit fixed-point multiplier"
    return None


def suspect_op(model: Model) -> tuple[str, str] | None:
    """(op description, why) for the first op a static check says a runtime's kernel would abort on."""
    for op in model.operators:
        why = _softmax_problem(model, op) if op.opcode == "SOFTMAX" else None
        why = why or _multiplier_problem(model, op)
        if why:
            return op.describe(model), why
    return None


# --- child side ----------------------------------------------------------------------------------------


def _child(work: Path, proto: Any) -> int:
    from tinydeploy.model.graph import load_model
    from tinydeploy.reference import backends

    def say(**msg: Any) -> None:
        proto.write(json.dumps(msg) + "\n")
        proto.flush()

    request = json.loads((work / "request.json").read_text())
    try:
        model = load_model(request["model"])
        say(stage="load")
        runner = backends.open_tflite_runner(request["backend"], model)
        with np.load(work / "inputs.npz") as data:
            batches = [data[f"arr_{k}"] for k in range(len(data.files))]
        per_sample = []
        for i in range(int(request["count"])):
            say(stage="sample", i=i)
            sample = [b[i: i + 1] if one else b[i] for b, one in zip(batches, request["batched_axis"])]
            per_sample.append(runner.invoke(sample))
            say(stage="done", i=i)
        outputs = backends.stack_outputs(per_sample, len(model.outputs))
    except UserError as err:
        say(error=err.message, hint=err.hint, unsupported=isinstance(err, UnsupportedOpError))
        return 0
    except (RuntimeError, ValueError) as err:  # the bindings' errors while running a sample
        text = " ".join(str(err).split())[:300] or type(err).__name__
        say(error=f"{request['model']}: the {request['backend']} reference failed: {text}", hint=None)
        return 0
    tmp = work / "outputs.tmp.npz"
    np.savez(tmp, *outputs)
    tmp.replace(work / "outputs.npz")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    # The protocol gets a private copy of stdout; fd 1 then goes to stderr, so that whatever the runtimes print
    # through C stdio cannot corrupt the protocol.
    proto = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    return _child(Path(args[0]), proto)


if __name__ == "__main__":
    sys.exit(main())
