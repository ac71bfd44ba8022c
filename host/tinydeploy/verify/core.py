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
from tinydeploy.reference.worker import ReferenceCrash
from tinydeploy.verify import metrics
from tinydeploy.verify.inputs import LabelSource, Labels, as_batch, load_arrays, load_labels, prepare_inputs
from tinydeploy.verify.report import UNIT_LABELS, Check, VerifyReport


@dataclass
class Thresholds:
    """Pass/fail limits; None disables a check.  Drift limits apply to the float reference when one was
    given, else to LiteRT."""

    min_exact_match_rate: float | None = 1.0  # share of inputs matching TFLM (float outputs: within float_rtol)
    max_lsb_diff: float | None = None  # largest |device - tflm| in LSB (integer outputs)
    min_cosine: float | None = None
    max_abs_error: float | None = None
    min_top1_agreement: float | None = None
    min_accuracy: float | None = None  # device accuracy against class labels (--labels)
    max_rmse: float | None = None  # device rmse against regression targets (--labels)
    float_rtol: float = metrics.DEFAULT_FLOAT_RTOL  # float outputs match TFLM within this (relative)


@dataclass
class _Measured:
    outputs: list[list[np.ndarray]]  # per sample, per output
    latencies: list[int]
    stacks: list[int]
    interrupted: str | None = None
    error: BaseException | None = None


def verify_model(link: DeviceLink, model_path: str | Path, inputs: str | Path | np.ndarray | Sequence[np.ndarray],
                 labels: LabelSource = None, *, board: Board | str, n: int | None = None,
                 thresholds: Thresholds = Thresholds(), progress: bool = True,
                 float_model: str | Path | None = None, firmware: str | Path | None = None,
                 litert: bool = True, arena_estimate: int | None = None,
                 layers: str | None = None) -> VerifyReport:
    """Run up to `n` inputs on the device behind `link` and compare them with the references.

    inputs: a .npy/.npz path, one array (single-input model) or one array per model input, batched
    (N, ...); float data is quantized with the input tensor's parameters, integer data used as is.
    labels: ground truth, one per input (see verify.inputs.load_labels): class indices / one-hot
    (accuracy, confusion matrix) or float regression targets (rmse, mae, ...).
    float_model: the float model (.keras, float .tflite, SavedModel) for float drift; firmware: the ELF,
    for flash/RAM figures; arena_estimate: the host's estimate of the arena the device uses (bytes), to
    hold the device's own figure against; layers: "latency" or "outputs" for the per-layer section
    (verify/layers.py; firmware built with -DTD_LAYERS).  Raises UserError when the device runs another model.
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
    truth = load_labels(labels, model, count, where)
    _check_label_thresholds(truth, thresholds)
    sizes = _firmware_memory(firmware, board)

    try:
        tflm = run_reference("tflm", model_path, batches, progress=progress)
        measured = _stream(link, batches, total, progress, f"verify on {board.id}")
    except ReferenceCrash as err:  # nothing to judge the device against: a report that says why, then fail
        tflm, measured = [], _Measured([], [], [], interrupted=f"reference failed: {err.message}", error=err)
    except KeyboardInterrupt as err:  # Ctrl-C/SIGTERM before the device ran: still a report saying so
        tflm, measured = [], _Measured([], [], [], interrupted=str(err) or "interrupted (Ctrl-C)", error=err)
    context = _Context(link, info, board, model, model_path, total, batches, raw, truth, thresholds,
                       float_model, sizes, litert, arena_estimate)
    report = _build_report(context, measured, tflm)
    if layers and measured.error is None:
        from tinydeploy.verify.layers import layers_for_report

        try:
            report.extras["layers"] = layers_for_report(link, model, batches, measured.outputs, tflm, layers)
        except UserError as err:  # e.g. firmware without per-layer support: the verify part still counts
            err.partial_report = report  # type: ignore[attr-defined]
            raise
    if measured.error is not None:
        measured.error.partial_report = report  # type: ignore[attr-defined]
        raise measured.error
    return report


def _check_label_thresholds(truth: list[Labels], t: Thresholds) -> None:
    """A threshold that cannot be measured with the labels given is a usage error, not a failed check."""
    first = truth[0] if truth else None
    if t.min_accuracy is not None and (first is None or not first.is_classification):
        what = "no --labels were given" if first is None else f"{first.where} holds regression targets"
        raise UserError(f"--min-accuracy needs class labels, but {what}",
                        hint="give class indices or one-hot labels, or use --max-rmse for regression targets")
    if t.max_rmse is not None and (first is None or first.is_classification):
        what = "no --labels were given" if first is None else f"{first.where} holds class labels"
        raise UserError(f"--max-rmse needs regression targets, but {what}",
                        hint="give float targets shaped like the output, or use --min-accuracy for classes")


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
        measured.interrupted, measured.error = str(err) or "interrupted (Ctrl-C)", err  # or "terminated (SIGTERM)"
    except LinkError as err:
        measured.interrupted, measured.error = f"link failed: {err.message}", err
    return measured


def _batched(per_sample: list[list[np.ndarray]], n_outputs: int) -> list[np.ndarray]:
    return [np.concatenate([s[k].reshape(1, *s[k].shape[1:]) if s[k].shape[:1] == (1,) else s[k][None]
                            for s in per_sample]) for k in range(n_outputs)]


@dataclass
class _Context:
    """Everything verify_model knows besides the measurements: what the report is built from."""

    link: DeviceLink
    info: DeviceInfo
    board: Board
    model: Model
    model_path: Path
    total: int
    batches: list[np.ndarray]
    raw: list[np.ndarray]
    labels: list[Labels]
    thresholds: Thresholds
    float_model: str | Path | None
    sizes: dict
    litert: bool
    arena_estimate: int | None


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
                     device_real: list[np.ndarray], progress: bool) -> tuple[dict, list[np.ndarray] | None]:
    try:
        outputs = run_reference(name, model_ref, ref_inputs, progress=progress)
    except UserError as err:
        return {"skipped": err.message}, None
    real = [dequantize_output(o, t) for o, t in zip(outputs, model.output_tensors)] if name == "litert" else \
        [np.asarray(o, dtype=np.float32) for o in outputs]
    try:
        real = [r.reshape(d.shape) for r, d in zip(real, device_real)]
    except ValueError:
        return {"skipped": f"the {name} reference's outputs are not shaped like the model's"}, None
    return metrics.drift(device_real, real), real


def _ground_truth(labels: list[Labels], outputs: dict[str, list[np.ndarray]], done: int) -> dict[int, dict]:
    """Per labelled output: the device's (and each reference's) accuracy or error against the labels;
    the device's classification carries the confusion matrix."""
    result: dict[int, dict] = {}
    for lab in labels:
        truth = lab.values[:done]
        per_source = {}
        for source, arrays in outputs.items():
            out = arrays[lab.output]
            per_source[source] = (metrics.classification(out, truth, lab.n_classes, matrix=source == "device")
                                  if lab.is_classification else metrics.regression(out, truth))
        result[lab.output] = {"task": "classification" if lab.is_classification else "regression",
                              "source": lab.where, **per_source}
    return result


def _output_rows(model: Model, device: list[np.ndarray], tflm: list[np.ndarray], device_real: list[np.ndarray],
                 references: dict[str, list[np.ndarray]], truth: dict[int, dict], rtol: float) -> list[dict]:
    """The ST-validate style table: per output, the device against TFLM (exactness), each drift
    reference and the ground truth."""
    rows = []
    for k, tensor in enumerate(model.output_tensors):
        exact = metrics.exactness([device[k]], [tflm[k]], rtol)
        real_tflm = dequantize_output(tflm[k], tensor)
        row = {"index": k, "name": tensor.name, "dtype": tensor.dtype, "shape": list(tensor.shape),
               "diff_unit": "relative" if metrics.is_float(device[k]) else "LSB",
               "tflm": {**exact, **metrics.compare(device_real[k], real_tflm)}}
        for name, real in references.items():
            row[name] = metrics.compare(device_real[k], real[k])
        if k in truth:
            row["labels"] = truth[k]
            row["task"] = truth[k]["task"]
        rows.append(row)
    return rows


def _build_report(c: _Context, measured: _Measured, tflm: list[np.ndarray]) -> VerifyReport:
    done = len(measured.outputs)
    model = c.model
    fidelity: dict[str, dict] = {}
    lsb_errors: list[np.ndarray] = []
    float_errors: list[np.ndarray] = []
    float_reference = ""
    outputs: list[dict] = []
    arrays: dict[str, np.ndarray] = {f"input_{k}": b[:done] for k, b in enumerate(c.batches)}
    if done:
        device = _batched(measured.outputs, len(model.outputs))
        reference = [t[:done].reshape(d.shape) for t, d in zip(tflm, device)]
        fidelity["tflm"] = metrics.exactness(device, reference, c.thresholds.float_rtol)
        lsb_errors = [metrics.differences(d, r).ravel() for d, r in zip(device, reference)]
        device_real = [dequantize_output(d, t) for d, t in zip(device, model.output_tensors)]
        references: dict[str, list[np.ndarray]] = {}
        if c.litert:
            fidelity["litert"], litert_real = _drift_reference(
                "litert", c.model_path, [b[:done] for b in c.batches], model, device_real, False)
        else:
            fidelity["litert"], litert_real = {"skipped": "disabled"}, None
        if c.float_model is not None:
            fidelity["float"], float_real = _drift_reference(
                "float", c.float_model, _float_inputs(c.raw, c.batches, model, done), model, device_real, False)
        else:
            fidelity["float"], float_real = {"skipped": "no float model given (--float-model)"}, None
        for name, real in (("litert", litert_real), ("float", float_real)):
            if real is not None:
                references[name] = real
        drift_real, float_reference = (float_real, "float model") if float_real is not None else (litert_real, "litert")
        if drift_real is not None:
            float_errors = [(d - r).ravel() for d, r in zip(device_real, drift_real)]
        truth = _ground_truth(c.labels, {"device": device_real, **references}, done)
        _legacy_accuracy(fidelity, truth)
        outputs = _output_rows(model, device, reference, device_real, references, truth, c.thresholds.float_rtol)
        arrays.update(_saved_arrays(device, reference, device_real, references, c.labels, done))
    else:
        fidelity = {"tflm": metrics.exactness([], []), "litert": {"skipped": "no inputs measured"},
                    "float": {"skipped": "no inputs measured"}}

    info, link = c.info, c.link
    unit = info.latency_unit
    latency = {"unit": unit, "label": UNIT_LABELS.get(unit, unit), **metrics.latency_stats(measured.latencies)}
    memory = {**c.sizes, **_arena(info, c.arena_estimate),
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
        board=c.board.id, runtime=info.runtime, port=link.url, model_path=str(c.model_path), model_sha256=model.sha256,
        n_requested=c.total, n_inputs=done, fidelity=fidelity, latency=latency, memory=memory, link=link_figures,
        device=device_info, interrupted=measured.interrupted, latencies=list(measured.latencies),
        lsb_errors=lsb_errors, float_errors=float_errors, float_reference=float_reference, outputs=outputs,
        arrays=arrays)
    report.checks = _checks(report, c.thresholds)
    report.thresholds = asdict(c.thresholds)
    return report


def _legacy_accuracy(fidelity: dict[str, dict], truth: dict[int, dict]) -> None:
    """fidelity.device_accuracy (and each reference's accuracy) for the first output's class labels, where
    thresholds, the demo and earlier reports read them; fidelity.device_rmse for regression targets."""
    first = truth.get(0)
    if first is None:
        return
    if first["task"] == "classification":
        fidelity["device_accuracy"] = first["device"]["acc"]
        for name in ("litert", "float"):
            if name in first and "compared" in fidelity.get(name, {}):
                fidelity[name]["accuracy"] = first[name]["acc"]
    else:
        fidelity["device_rmse"] = first["device"]["rmse"]


def _saved_arrays(device: list[np.ndarray], tflm: list[np.ndarray], device_real: list[np.ndarray],
                  references: dict[str, list[np.ndarray]], labels: list[Labels], done: int) -> dict[str, np.ndarray]:
    """What --save-outputs keeps: per output k, the device's stored values and real values, TFLM's stored
    values, each drift reference's real values and the labels."""
    arrays: dict[str, np.ndarray] = {}
    for k in range(len(device)):
        arrays[f"device_{k}"] = device[k]
        arrays[f"device_real_{k}"] = device_real[k]
        arrays[f"tflm_{k}"] = tflm[k]
        for name, real in references.items():
            arrays[f"{name}_{k}"] = real[k]
    for lab in labels:
        arrays[f"labels_{lab.output}"] = lab.values[:done]
    return arrays


def _arena(info: DeviceInfo, estimate: int | None) -> dict:
    """The arena as the host estimated it, as the firmware allocated it and as the device used it."""
    figures: dict = {"arena_bytes": info.arena_bytes, "arena_used_bytes": info.arena_used_bytes,
                     "arena_estimate_bytes": estimate}
    if info.arena_bytes and info.runtime == "tflm":  # TFLM allocates at run time: how close the sizing was
        from tinydeploy.tflm.arena import confirm_on_device

        figures["arena_note"] = confirm_on_device(info.arena_bytes, info.arena_used_bytes, estimate)
    return figures


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

    def add(name: str, value, limit, op: str, **figures) -> None:
        if limit is None:
            return
        ok = value is not None and (value >= limit if op == ">=" else value <= limit)
        checks.append(Check(name, None if value is None else float(value), float(limit), op, bool(ok),
                            figures={k: v for k, v in figures.items() if v is not None}))

    add("fidelity.tflm.exact_match_rate", tflm.get("exact_match_rate"), t.min_exact_match_rate, ">=",
        compared=tflm.get("compared"), mismatches=tflm.get("mismatches"), bit_exact_rate=tflm.get("bit_exact_rate"),
        max_abs_diff_lsb=tflm.get("max_abs_diff_lsb"), max_rel_diff=tflm.get("max_rel_diff"),
        float_rtol=tflm.get("float_rtol"))
    if tflm.get("max_abs_diff_lsb") is not None or tflm.get("max_rel_diff") is None:  # integer outputs only
        add("fidelity.tflm.max_abs_diff_lsb", tflm.get("max_abs_diff_lsb"), t.max_lsb_diff, "<=", unit="LSB")
    add(f"fidelity.{drift_name}.cosine_similarity", drift.get("cosine_similarity"), t.min_cosine, ">=")
    add(f"fidelity.{drift_name}.max_abs_error", drift.get("max_abs_error"), t.max_abs_error, "<=",
        rmse=drift.get("rmse"), mean_abs_error=drift.get("mean_abs_error"))
    add(f"fidelity.{drift_name}.top1_agreement", drift.get("top1_agreement"), t.min_top1_agreement, ">=")
    add("fidelity.device_accuracy", report.fidelity.get("device_accuracy"), t.min_accuracy, ">=",
        compared=report.n_inputs)
    add("fidelity.device_rmse", report.fidelity.get("device_rmse"), t.max_rmse, "<=", compared=report.n_inputs)
    mem = report.memory
    if mem.get("arena_estimate_bytes") and mem.get("arena_used_bytes"):
        check = Check("memory.arena_used_bytes", float(mem["arena_used_bytes"]), float(mem["arena_estimate_bytes"]),
                      "<=", mem["arena_used_bytes"] <= mem["arena_estimate_bytes"],
                      figures={"arena_bytes": mem.get("arena_bytes"), "arena_estimate_bytes": mem["arena_estimate_bytes"]})
        if not check.passed:
            check.note = (f"the device used {mem['arena_used_bytes']:,} B of its {mem['arena_bytes']:,} B arena, more "
                          f"than the host estimate of {mem['arena_estimate_bytes']:,} B: the sizing is wrong for this "
                          f"firmware; report it, and re-render with a larger --arena-margin meanwhile")
        checks.append(check)
    return checks
