"""Verify a model on a device: stream inputs over the link, compare with the host references, time it.

    with DeviceLink.open(url) as link:
        report = verify_model(link, "m.tflite", "x.npz", board="qemu-m4", n=100)
    report.check()   # CheckFailed when a threshold failed

The TFLM host interpreter is the exactness oracle (the device must match it bit for bit); LiteRT and the
float model are drift references (how far quantization and kernels move the results).  An interrupted
run (Ctrl-C, a dead link) still produces a report of what was measured: the exception that stopped it
carries it as `err.partial_report`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from tinydeploy.boards import Board, get_board
from tinydeploy.errors import LinkError, UserError
from tinydeploy.link.client import DeviceLink
from tinydeploy.link.protocol import DeviceInfo
from tinydeploy.model.graph import Model, load_model
from tinydeploy.progress import track
from tinydeploy.reference import dequantize_output, run_reference
from tinydeploy.verify import metrics
from tinydeploy.verify.inputs import as_batch, load_arrays, load_labels, prepare_inputs
from tinydeploy.verify.report import UNIT_LABELS, Check, VerifyReport


@dataclass
class Thresholds:
    """Pass/fail limits; None disables a check.  Drift limits apply to the float reference when one was
    given, else to LiteRT."""

    min_exact_match_rate: float | None = 1.0  # share of inputs matching TFLM bit for bit
    max_lsb_diff: float | None = None  # largest |device - tflm| in LSB
    min_cosine: float | None = None
    max_abs_error: float | None = None
    min_top1_agreement: float | None = None
    min_accuracy: float | None = None  # device top-1 accuracy against --labels


@dataclass
class _Measured:
    outputs: list[list[np.ndarray]]  # per sample, per output
    latencies: list[int]
    stacks: list[int]
    interrupted: str | None = None
    error: BaseException | None = None


def verify_model(link: DeviceLink, model_path: str | Path, inputs: str | Path | np.ndarray | Sequence[np.ndarray],
                 labels: str | Path | np.ndarray | None = None, *, board: Board | str, n: int | None = None,
                 thresholds: Thresholds = Thresholds(), progress: bool = True,
                 float_model: str | Path | None = None, firmware: str | Path | None = None,
                 litert: bool = True) -> VerifyReport:
    """Run up to `n` inputs on the device behind `link` and compare them with the references.

    inputs: a .npy/.npz path, one array (single-input model) or one array per model input, batched
    (N, ...); float data is quantized with the input tensor's parameters, integer data used as is.
    float_model: the float model (.keras, float .tflite, SavedModel) for float drift; firmware: the ELF,
    for flash/RAM figures.  Raises UserError when the device runs another model.
    """
    board = get_board(board) if isinstance(board, str) else board
    model_path = Path(model_path)
    model = load_model(model_path)
    info = link.info or link.hello()
    _check_identity(link, info, model, board)

    raw = load_arrays(inputs, model) if isinstance(inputs, (str, Path)) else (
        [inputs] if isinstance(inputs, np.ndarray) else list(inputs))
    where = str(inputs) if isinstance(inputs, (str, Path)) else "inputs"
    batches = prepare_inputs(raw, model, where)
    count = len(batches[0]) if batches else 0
    total = count if n is None else min(n, count)
    if total == 0:
        raise UserError(f"{where}: no inputs to verify", hint="give a non-empty array, and -n > 0")
    batches = [b[:total] for b in batches]
    label_array = load_labels(labels) if isinstance(labels, (str, Path)) else labels
    if label_array is not None and len(label_array) < total:
        raise UserError(f"{labels if isinstance(labels, (str, Path)) else 'labels'}: {len(label_array)} labels "
                        f"for {total} inputs", hint="give one label per input")
    sizes = _firmware_memory(firmware, board)

    tflm = run_reference("tflm", model_path, batches, progress=progress)
    measured = _stream(link, batches, total, progress, f"verify on {board.id}")
    report = _build_report(link, info, board, model, model_path, total, measured, tflm, batches, raw,
                           label_array, thresholds, float_model, sizes, litert)
    if measured.error is not None:
        measured.error.partial_report = report  # type: ignore[attr-defined]
        raise measured.error
    return report


def _check_identity(link: DeviceLink, info: DeviceInfo, model: Model, board: Board) -> None:
    if info.model_sha256 != model.sha256:
        raise UserError(f"the firmware on {link.url} was built from a model with sha256 {info.model_sha256[:16]}..., "
                        f"not {model.path} (sha256 {model.sha256[:16]}...): refusing to compare",
                        hint="build and flash the firmware for this model, or pass the model it was built from")
    if info.board != board.id:
        raise UserError(f"the device on {link.url} says it is board '{info.board}', not '{board.id}'",
                        hint="pass the right --board or --port")
    sizes = ([t.nbytes for t in model.input_tensors], [t.nbytes for t in model.output_tensors])
    device_sizes = ([t.nbytes for t in info.inputs], [t.nbytes for t in info.outputs])
    if sizes != device_sizes:
        raise UserError(f"the firmware on {link.url} has tensors of {device_sizes} bytes, {model.path} has {sizes}",
                        hint="rebuild the firmware from this model")


def _stream(link: DeviceLink, batches: list[np.ndarray], total: int, progress: bool, title: str) -> _Measured:
    """Run the inputs one by one; stops early (keeping what it measured) on Ctrl-C or a dead link."""
    measured = _Measured([], [], [])
    try:
        for i in track(range(total), title, enabled=progress):
            sample = [b[i : i + 1] for b in batches]
            result = link.infer(sample)
            measured.outputs.append(result.outputs)
            measured.latencies.append(int(result.latency))
            measured.stacks.append(int(result.stack_bytes))
    except KeyboardInterrupt as err:
        measured.interrupted, measured.error = "interrupted (Ctrl-C)", err
    except LinkError as err:
        measured.interrupted, measured.error = f"link failed: {err.message}", err
    return measured


def _batched(per_sample: list[list[np.ndarray]], n_outputs: int) -> list[np.ndarray]:
    return [np.concatenate([s[k].reshape(1, *s[k].shape[1:]) if s[k].shape[:1] == (1,) else s[k][None]
                            for s in per_sample]) for k in range(n_outputs)]


def _float_inputs(raw: list[np.ndarray], batches: list[np.ndarray], model: Model, done: int) -> list[np.ndarray]:
    """Float inputs for the float reference: the user's float data, or the quantized data dequantized."""
    result = []
    for r, b, tensor in zip(raw, batches, model.input_tensors):
        r = np.asarray(r)
        if np.issubdtype(r.dtype, np.floating):
            result.append(as_batch(r, tensor, "inputs")[:done].astype(np.float32))
        else:
            result.append(dequantize_output(b[:done], tensor))
    return result


def _drift_reference(name: str, model_ref: str | Path, ref_inputs: list[np.ndarray], model: Model,
                     device_real: list[np.ndarray], labels: np.ndarray | None, progress: bool
                     ) -> tuple[dict, list[np.ndarray] | None]:
    try:
        outputs = run_reference(name, model_ref, ref_inputs, progress=progress)
    except UserError as err:
        return {"skipped": err.message}, None
    real = [dequantize_output(o, t) for o, t in zip(outputs, model.output_tensors)] if name == "litert" else \
        [np.asarray(o, dtype=np.float32) for o in outputs]
    real = [r.reshape(d.shape) for r, d in zip(real, device_real)]
    return metrics.drift(device_real, real, labels), real


def _build_report(link: DeviceLink, info: DeviceInfo, board: Board, model: Model, model_path: Path, total: int,
                  measured: _Measured, tflm: list[np.ndarray], batches: list[np.ndarray], raw: list[np.ndarray],
                  labels: np.ndarray | None, thresholds: Thresholds, float_model: str | Path | None,
                  sizes: dict, litert: bool) -> VerifyReport:
    done = len(measured.outputs)
    fidelity: dict[str, dict] = {}
    lsb_errors: list[np.ndarray] = []
    float_errors: list[np.ndarray] = []
    float_reference = ""
    if done:
        device = _batched(measured.outputs, len(model.outputs))
        reference = [t[:done].reshape(d.shape) for t, d in zip(tflm, device)]
        fidelity["tflm"] = metrics.exactness(device, reference)
        lsb_errors = [(d.astype(np.int64) - r.astype(np.int64)).ravel() if np.issubdtype(d.dtype, np.integer)
                      else (d.astype(np.float64) - r.astype(np.float64)).ravel() for d, r in zip(device, reference)]
        device_real = [dequantize_output(d, t) for d, t in zip(device, model.output_tensors)]
        if labels is not None:
            fidelity["device_accuracy"] = metrics.accuracy(device_real[0], labels[:done])
        if litert:
            fidelity["litert"], litert_real = _drift_reference(
                "litert", model_path, [b[:done] for b in batches], model, device_real, labels, False)
        else:
            fidelity["litert"], litert_real = {"skipped": "disabled"}, None
        if float_model is not None:
            fidelity["float"], float_real = _drift_reference(
                "float", float_model, _float_inputs(raw, batches, model, done), model, device_real, labels, False)
        else:
            fidelity["float"], float_real = {"skipped": "no float model given (--float-model)"}, None
        drift_real, float_reference = (float_real, "float model") if float_real is not None else (litert_real, "litert")
        if drift_real is not None:
            float_errors = [(d - r).ravel() for d, r in zip(device_real, drift_real)]
    else:
        fidelity = {"tflm": metrics.exactness([], []), "litert": {"skipped": "no inputs measured"},
                    "float": {"skipped": "no inputs measured"}}

    unit = info.latency_unit
    latency = {"unit": unit, "label": UNIT_LABELS.get(unit, unit), **metrics.latency_stats(measured.latencies)}
    memory = {**sizes,
              "arena_bytes": info.arena_bytes, "arena_used_bytes": info.arena_used_bytes,
              "stack_bytes": max(measured.stacks) if measured.stacks else None}
    stats = link.stats
    link_figures = {"port": link.url, "retries": stats.retries, "corrupt_frames": stats.corrupt_frames,
                    "timeouts": stats.timeouts, "reboots": stats.reboots,
                    "payload_efficiency": round(link.payload_efficiency, 4),
                    "bytes_sent": link.transport.bytes_written, "bytes_received": link.transport.bytes_read}
    device_info = {"board": info.board, "runtime": info.runtime, "protocol_version": info.protocol_version,
                   "clock_hz": info.clock_hz, "counter_unit": info.counter_unit, "model_sha256": info.model_sha256,
                   "inputs": [t.describe() for t in info.inputs], "outputs": [t.describe() for t in info.outputs]}
    report = VerifyReport(
        board=board.id, runtime=info.runtime, port=link.url, model_path=str(model_path), model_sha256=model.sha256,
        n_requested=total, n_inputs=done, fidelity=fidelity, latency=latency, memory=memory, link=link_figures,
        device=device_info, interrupted=measured.interrupted, latencies=list(measured.latencies),
        lsb_errors=lsb_errors, float_errors=float_errors, float_reference=float_reference)
    report.checks = _checks(report, thresholds)
    report.thresholds = asdict(thresholds)
    return report


def _firmware_memory(firmware: str | Path | None, board: Board) -> dict:
    """Flash and RAM of the firmware ELF (as `deploy build` measures them); None when not given."""
    if firmware is None:
        return {"flash_bytes": None, "ram_bytes": None}
    from tinydeploy.flash.firmware import firmware_size

    path = Path(firmware)
    if not path.is_file():
        raise UserError(f"{path}: no such firmware file", hint="pass the ELF deploy build wrote (--firmware)")
    size = firmware_size(path, board)
    return {"flash_bytes": size.flash_bytes, "ram_bytes": size.ram_bytes}


def _checks(report: VerifyReport, t: Thresholds) -> list[Check]:
    checks: list[Check] = []
    tflm = report.fidelity.get("tflm", {})
    drift_name = "float" if "compared" in report.fidelity.get("float", {}) else "litert"
    drift = report.fidelity.get(drift_name, {})

    def add(name: str, value, limit, op: str) -> None:
        if limit is None:
            return
        ok = value is not None and (value >= limit if op == ">=" else value <= limit)
        checks.append(Check(name, None if value is None else float(value), float(limit), op, bool(ok)))

    add("fidelity.tflm.exact_match_rate", tflm.get("exact_match_rate"), t.min_exact_match_rate, ">=")
    add("fidelity.tflm.max_abs_diff_lsb", tflm.get("max_abs_diff_lsb"), t.max_lsb_diff, "<=")
    add(f"fidelity.{drift_name}.cosine_similarity", drift.get("cosine_similarity"), t.min_cosine, ">=")
    add(f"fidelity.{drift_name}.max_abs_error", drift.get("max_abs_error"), t.max_abs_error, "<=")
    add(f"fidelity.{drift_name}.top1_agreement", drift.get("top1_agreement"), t.min_top1_agreement, ">=")
    add("fidelity.device_accuracy", report.fidelity.get("device_accuracy"), t.min_accuracy, ">=")
    return checks
