"""Tensor-arena sizing from a measurement, not trial and error.

1. Measure: TFLM's own interpreter (PyPI `tflite-micro`, the same C++ as on the device) allocates the model
   in a generous arena, runs it once on zeros and reports its RecordingMicroAllocator breakdown
   (`print_allocations()`: total, head = non-persistent planned buffers, tail = persistent structs).
   It runs in a child process: TFLM's Python binding crashes the process (SIGSEGV) when an arena is too
   small, and it prints through C stdio, which only a separate process captures cleanly.
2. Correct for the device:
   - 64-bit host vs 32-bit Cortex-M pointers.  `TfLiteEvalTensor` is {void* data; TfLiteIntArray* dims;
     TfLiteType type;}: 8+8+4 padded to 24 bytes on the host, 4+4+4 = 12 bytes on the device, so that
     category shrinks by exactly half.  The other persistent structs (TfLiteTensor, node/registration
     structs, kernels' OpData) also hold pointers and size_t, so they can only shrink on 32-bit; we keep their
     64-bit size as an upper bound rather than guess a per-struct ratio.  Tensor data and scratch buffers
     are the same size on both.
   - CMSIS-NN scratch.  The host interpreter uses TFLM's reference kernels; the device's CMSIS-NN kernels
     ask for scratch buffers (im2col for CONV_2D, a column buffer for DEPTHWISE_CONV_2D, per-channel sums for
     int8 AVERAGE_POOL_2D).  Scratch lives in the non-persistent head next to the op's tensors, so the largest
     single request is added (CMSIS-NN's documented get_buffer_size formulas for DSP cores, an upper bound
     for the others).
3. Add the margin (default 20 %, at least 1 KiB: other kernel versions, allocator bookkeeping) and round up
   to 16 bytes, TFLM's arena alignment.
4. Confirm on the device: td_arena_used_bytes() (interpreter.arena_used_bytes()) comes back in HELLO.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache

from tinydeploy.errors import UserError
from tinydeploy.model.graph import Model

DEFAULT_MARGIN = 0.20
MIN_MARGIN_BYTES = 1024
ALIGN = 16
MEASURE_TIMEOUT_S = 120
_HOST_EVAL_TENSOR = 24  # sizeof(TfLiteEvalTensor) on a 64-bit host
_DEVICE_EVAL_TENSOR = 12  # ... and on a 32-bit Cortex-M


@dataclass(frozen=True)
class HostMeasurement:
    """What TFLM's host interpreter reported; `error` is TFLM's own message when it refused the model."""

    total: int = 0
    head: int = 0
    tail: int = 0
    categories: dict[str, int] = field(default_factory=dict)  # 'TfLiteEvalTensor data' -> bytes
    error: str = ""
    log: str = ""


@dataclass(frozen=True)
class ArenaEstimate:
    host: HostMeasurement
    eval_tensor_saving: int  # bytes the 32-bit TfLiteEvalTensor saves
    cmsis_scratch: int  # largest CMSIS-NN scratch request added
    required: int  # device estimate before the margin
    margin: float
    arena_bytes: int  # what the sketch allocates

    def describe(self) -> str:
        return (f"host TFLM used {self.host.total} B; device estimate {self.required} B "
                f"(-{self.eval_tensor_saving} B 32-bit TfLiteEvalTensor, +{self.cmsis_scratch} B CMSIS-NN "
                f"scratch); arena {self.arena_bytes} B with {self.margin:.0%} margin")


# --- measurement (parent side) -----------------------------------------------------------------------


@lru_cache(maxsize=16)
def _measure_cached(raw: bytes) -> HostMeasurement:
    with tempfile.NamedTemporaryFile(suffix=".tflite", delete=False) as tmp:
        tmp.write(raw)
    try:
        proc = subprocess.run([sys.executable, "-m", "tinydeploy.tflm.arena", tmp.name],
                              capture_output=True, text=True, timeout=MEASURE_TIMEOUT_S,
                              env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    except subprocess.TimeoutExpired:
        raise UserError(f"TFLM's host interpreter did not finish within {MEASURE_TIMEOUT_S} s on this model",
                        hint="set the arena yourself with --arena-bytes N") from None
    finally:
        os.unlink(tmp.name)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return HostMeasurement(error=f"TFLM's host interpreter crashed (exit {proc.returncode})",
                               log="\n".join(tail))
    data = json.loads(lines[-1])
    return HostMeasurement(total=data.get("total", 0), head=data.get("head", 0), tail=data.get("tail", 0),
                           categories=data.get("categories", {}), error=data.get("error", ""),
                           log=data.get("log", ""))


def measure_host(model: Model) -> HostMeasurement:
    """Run the model in TFLM's host interpreter (child process) and return its arena breakdown."""
    if importlib.util.find_spec("tflite_micro") is None:
        from tinydeploy.errors import ToolMissingError

        raise ToolMissingError("the tflite-micro Python package is not installed",
                               hint="pip install tflite-micro (or: pip install -e .[ml])")
    return _measure_cached(model.raw)


# --- estimate ----------------------------------------------------------------------------------------


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def cmsis_nn_scratch(model: Model) -> int:
    """Largest scratch buffer a CMSIS-NN kernel requests for one op of this model (bytes)."""
    largest = 0
    for op in model.operators:
        if not op.inputs or op.inputs[0] < 0:
            continue
        act = model.tensors[op.inputs[0]]
        if act.dtype not in ("int8", "int16") or len(act.shape) != 4:
            continue
        cin = act.shape[3]
        size = 0
        if op.opcode in ("CONV_2D", "DEPTHWISE_CONV_2D") and len(op.inputs) > 1:
            filt = model.tensors[op.inputs[1]].shape  # CONV: [cout, kh, kw, cin]; DW: [1, kh, kw, cout]
            kh, kw = (filt[1], filt[2]) if len(filt) == 4 else (1, 1)
            if op.opcode == "CONV_2D":
                size = 0 if (kh, kw) == (1, 1) else 2 * cin * kh * kw * 2  # 2 im2col columns of int16
            else:
                size = cin * kh * kw * 2  # one int16 column
        elif op.opcode == "AVERAGE_POOL_2D":
            size = cin * 4  # int32 per-channel sums
        largest = max(largest, size)
    return largest


def estimate(model: Model, *, margin: float = DEFAULT_MARGIN, cmsis_nn: bool = True,
             host: HostMeasurement | None = None) -> ArenaEstimate:
    """The arena the device needs, from the host measurement (see the module docstring)."""
    if margin < 0:
        raise UserError(f"--arena-margin {margin} is negative", hint="use e.g. 0.2 for 20 %")
    host = host or measure_host(model)
    if host.error:
        raise UserError(f"TFLM's host interpreter rejected the model: {host.error}",
                        hint=host.log.splitlines()[0] if host.log else "see: deploy render --runtime tflm preflight")
    eval_bytes = host.categories.get("TfLiteEvalTensor data", 0)
    saving = eval_bytes - eval_bytes * _DEVICE_EVAL_TENSOR // _HOST_EVAL_TENSOR
    scratch = cmsis_nn_scratch(model) if cmsis_nn else 0
    required = _align(host.total - saving + scratch)
    extra = max(math.ceil(required * margin), MIN_MARGIN_BYTES if margin > 0 else 0)
    return ArenaEstimate(host=host, eval_tensor_saving=saving, cmsis_scratch=scratch, required=required,
                         margin=margin, arena_bytes=_align(required + extra))


def confirm_on_device(arena_bytes: int, arena_used_bytes: int, required: int | None = None) -> str:
    """Compare HELLO's arena figures with the host sizing; returns a one-line note for the report.

    The note says how much of the arena the device used and, when the host estimate is known, how far off it
    was (positive: the estimate was generous; negative: the margin absorbed an underestimate).
    """
    if arena_used_bytes <= 0:
        return f"arena {arena_bytes} B (the device did not report its usage)"
    note = f"arena {arena_used_bytes}/{arena_bytes} B used ({arena_used_bytes / arena_bytes:.0%})"
    if required:
        note += f", host estimate {required} B ({required - arena_used_bytes:+d} B)"
    if arena_used_bytes > arena_bytes - ALIGN:
        note += "; no headroom left: re-render with a larger --arena-margin"
    return note


# --- measurement (child side) ------------------------------------------------------------------------

_TOTALS = re.compile(r"Arena allocation (total|head|tail) (\d+) bytes")
_CATEGORY = re.compile(r"'([^']+)' used (\d+) bytes")


def _child(model_path: str) -> dict:
    import numpy as np

    from tflite_micro.python.tflite_micro import runtime

    from tinydeploy.model.graph import load_model

    model = load_model(model_path)
    raw = model.raw
    result: dict = {}
    arena = max(1 << 20, 16 * len(raw))
    with _fd_capture() as log:
        try:
            interp = runtime.Interpreter.from_bytes(raw, arena_size=arena)
            for i, t in enumerate(model.input_tensors):
                interp.set_input(np.zeros(t.shape, dtype=t.numpy_dtype), i)
            interp.invoke()
            interp.print_allocations()
        except Exception as err:  # the binding raises RuntimeError/ValueError for every TFLM failure
            result["error"] = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    text = "".join(log)
    for key, value in _TOTALS.findall(text):
        result[key] = int(value)
    result["categories"] = {name: int(v) for name, v in _CATEGORY.findall(text)}
    result["log"] = "\n".join(ln for ln in text.splitlines() if "RecordingMicroAllocator" not in ln)[-2000:]
    if "total" not in result and "error" not in result:
        result["error"] = "TFLM printed no allocation report"
    return result


class _fd_capture:
    """Send fds 1 and 2 (TFLM prints with C stdio) to a temp file; the list receives the text."""

    def __enter__(self) -> list[str]:
        self.log: list[str] = []
        sys.stdout.flush()
        sys.stderr.flush()
        self.tmp = tempfile.TemporaryFile(mode="w+b")
        self.saved = (os.dup(1), os.dup(2))
        os.dup2(self.tmp.fileno(), 1)
        os.dup2(self.tmp.fileno(), 2)
        return self.log

    def __exit__(self, *exc: object) -> None:
        try:
            import ctypes

            ctypes.CDLL(None).fflush(None)  # drain C stdio buffers into the temp file
        except OSError:
            pass
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(self.saved[0], 1)
        os.dup2(self.saved[1], 2)
        for fd in self.saved:
            os.close(fd)
        self.tmp.seek(0)
        self.log.append(self.tmp.read().decode("utf-8", "replace"))
        self.tmp.close()


if __name__ == "__main__":
    print(json.dumps(_child(sys.argv[1])))
