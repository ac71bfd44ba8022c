"""The result of a verification and its renderings: terminal table, JSON, JUnit XML, self-contained HTML,
and the saved outputs (.npz).

Every file is written atomically (temporary file in the same directory, then rename), so a reader never
sees half a report, even when the run was interrupted.  The HTML page needs no network: plots are inline
SVG, the style is inline, there is no script.  Its sections are built in order by `html_sections`; a new
section is one builder there (a function of the report returning an HTML fragment, "" to leave it out).
"""

from __future__ import annotations

import html
import io
import json
import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from tinydeploy.errors import CheckFailed
from tinydeploy.files import write_atomic

UNIT_LABELS = {"instructions": "instructions (emulated)", "cycles": "cycles", "ns": "ns"}
METRIC_COLUMNS = ("acc", "rmse", "mae", "l2r", "cos", "max_abs")  # ST Edge AI validate's, plus max |error|
MAX_MATRIX_CLASSES = 40  # larger confusion matrices stay in the JSON report only
MAX_SCATTER_POINTS = 2000
MAX_TERMINAL_CLASSES = 12  # confusion matrices printed in the terminal summary up to this many classes


@dataclass
class Check:
    name: str  # "fidelity.tflm.exact_match_rate"
    value: float | None
    limit: float
    op: str  # ">=" or "<="
    passed: bool
    figures: dict[str, Any] = field(default_factory=dict)  # related measurements (JUnit properties)
    note: str = ""  # what a failure means and what to do

    def describe(self) -> str:
        value = "n/a" if self.value is None else f"{self.value:g}"
        text = f"{self.name} = {value} (must be {self.op} {self.limit:g})"
        return f"{text}: {self.note}" if self.note and not self.passed else text


@dataclass
class VerifyReport:
    board: str
    runtime: str
    port: str
    model_path: str
    model_sha256: str
    n_requested: int
    n_inputs: int  # inferences measured on the device
    fidelity: dict[str, dict]
    latency: dict[str, Any]
    memory: dict[str, Any]
    link: dict[str, Any]
    device: dict[str, Any] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    interrupted: str | None = None  # why the run stopped early, None when it completed
    latencies: list[int] = field(default_factory=list, repr=False)
    lsb_errors: list[np.ndarray] = field(default_factory=list, repr=False)  # per output: device - tflm (LSB / relative)
    float_errors: list[np.ndarray] = field(default_factory=list, repr=False)  # per output: device - float/litert
    float_reference: str = ""
    thresholds: dict[str, Any] = field(default_factory=dict)
    outputs: list[dict[str, Any]] = field(default_factory=list)  # per output: vs tflm, litert, float, labels
    arrays: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # what --save-outputs keeps
    extras: dict[str, Any] = field(default_factory=dict)  # further sections (e.g. per-layer figures), in the JSON

    @property
    def passed(self) -> bool:
        return self.interrupted is None and all(c.passed for c in self.checks)

    @property
    def failed_checks(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def check(self) -> None:
        """Raise CheckFailed naming every failed threshold (a complete run with all checks passing: no-op)."""
        failed = self.failed_checks
        if failed:
            raise CheckFailed(f"verify {self.model_path} on {self.board}: " + "; ".join(c.describe() for c in failed))

    def to_dict(self) -> dict:
        return {
            "tool": "tinydeploy verify",
            "board": self.board,
            "runtime": self.runtime,
            "port": self.port,
            "model": {"path": self.model_path, "sha256": self.model_sha256},
            "device": self.device,
            "n_requested": self.n_requested,
            "n_inputs": self.n_inputs,
            "complete": self.interrupted is None,
            "interrupted": self.interrupted,
            "passed": self.passed,
            "fidelity": self.fidelity,
            "outputs": self.outputs,
            "latency": self.latency,
            "memory": self.memory,
            "link": self.link,
            "thresholds": self.thresholds,
            "checks": [dict(c.__dict__) for c in self.checks],
            **self.extras,
        }


# ---- atomic files ---------------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(report: VerifyReport, path: str | Path) -> Path:
    return write_atomic(path, json.dumps(_jsonable(report.to_dict()), indent=2) + "\n")


def write_outputs(report: VerifyReport, path: str | Path) -> Path:
    """--save-outputs: every measured input's device and reference outputs in one .npz (see docs/reports.md):
    input_<i>, device_<k>, device_real_<k>, tflm_<k>, litert_<k>, float_<k>, labels_<k>, plus
    output_names, n_inputs and complete."""
    buffer = io.BytesIO()
    names = np.array([o.get("name", f"output {o.get('index')}") for o in report.outputs], dtype=str)
    np.savez_compressed(buffer, **report.arrays, output_names=names, n_inputs=np.int64(report.n_inputs),
                        complete=np.bool_(report.interrupted is None))
    return write_atomic(path, buffer.getvalue())


def write_junit(report: VerifyReport, path: str | Path) -> Path:
    """One testcase per check (exactness, each threshold, accuracy against labels), its figures as properties."""
    suite = ET.Element("testsuite", name=f"deploy verify {report.board}")
    props = ET.SubElement(suite, "properties")
    for name, value in (("board", report.board), ("runtime", report.runtime), ("model", report.model_path),
                        ("model.sha256", report.model_sha256), ("n_inputs", report.n_inputs),
                        ("latency.unit", report.latency.get("unit")),
                        ("latency.median", report.latency.get("median")),
                        ("memory.flash_bytes", report.memory.get("flash_bytes")),
                        ("memory.ram_bytes", report.memory.get("ram_bytes")),
                        ("memory.arena_bytes", report.memory.get("arena_bytes"))):
        if value is not None:
            ET.SubElement(props, "property", name=name, value=str(value))
    failures = errors = 0
    cases = list(report.checks) + _informational_checks(report)
    for check in cases:
        case = ET.SubElement(suite, "testcase", classname=f"verify.{report.board}", name=check.name)
        _case_properties(case, check)
        if not check.passed:
            failures += 1
            ET.SubElement(case, "failure", message=check.describe()).text = check.describe()
    if report.interrupted:
        errors = 1
        case = ET.SubElement(suite, "testcase", classname=f"verify.{report.board}", name="run complete")
        ET.SubElement(case, "error", message=report.interrupted).text = (
            f"stopped after {report.n_inputs} of {report.n_requested} inputs: {report.interrupted}")
    suite.set("tests", str(len(cases) + errors))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    ET.indent(suite)
    return write_atomic(path, '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n")


def _informational_checks(report: VerifyReport) -> list[Check]:
    """Accuracy / error against the labels as a passing testcase when no threshold was set for it, so a CI
    dashboard tracks the figure on every run."""
    names = {c.name for c in report.checks}
    extra = []
    for row in report.outputs:
        truth = row.get("labels", {}).get("device")
        if not truth:
            continue
        key = "acc" if truth["task"] == "classification" else "rmse"
        name = f"labels.output{row['index']}.{key}"
        legacy = "fidelity.device_accuracy" if key == "acc" else "fidelity.device_rmse"
        if row["index"] == 0 and legacy in names:
            continue
        figures = {k: truth.get(k) for k in ("compared", "acc", "rmse", "mae", "l2r", "cos", "r2", "n_classes")}
        extra.append(Check(name, truth.get(key), math.nan, "n/a", True,
                           figures={k: v for k, v in figures.items() if v is not None}))
    return extra


def _case_properties(case: ET.Element, check: Check) -> None:
    props = ET.SubElement(case, "properties")
    items: list[tuple[str, Any]] = [("value", check.value)]
    if check.op != "n/a":
        items += [("limit", check.limit), ("op", check.op)]
    items += sorted(check.figures.items())
    for name, value in items:
        if value is not None:
            ET.SubElement(props, "property", name=name, value=f"{value:g}" if isinstance(value, float) else str(value))


# ---- terminal -------------------------------------------------------------------------------------------


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value):,}"
        return f"{value:.{digits}g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f} %"


def _exactness_text(tflm: dict) -> str:
    parts = [f"{tflm['mismatches']} mismatched"]
    if tflm.get("max_abs_diff_lsb") is not None:
        parts.append(f"max |diff| {tflm['max_abs_diff_lsb']} LSB")
    if tflm.get("max_rel_diff") is not None:
        parts.append(f"float outputs: max relative diff {tflm['max_rel_diff']:.3g}, tolerance {tflm['float_rtol']:g}")
    return f"{_fmt(tflm['exact_match_rate'] * 100, 5)} % ({', '.join(parts)})"


def _drift_text(name: str, d: dict) -> str:
    text = (f"max {_fmt(d['max_abs_error'])}, rmse {_fmt(d.get('rmse'))}, l2r {_fmt(d.get('l2r'))}, "
            f"cos {_fmt(d['cosine_similarity'], 6)}")
    if d.get("top1_agreement") is not None:
        text += f", top-1 agree {_pct(d['top1_agreement'])}"
    if "accuracy" in d:
        text += f", {name} accuracy {_pct(d['accuracy'])}"
    return text


def _labels_rows(report: VerifyReport) -> list[tuple[str, str]]:
    rows = []
    for row in report.outputs:
        truth = row.get("labels")
        if not truth:
            continue
        dev = truth["device"]
        if truth["task"] == "classification":
            text = f"accuracy {_pct(dev['acc'])} over {dev['n_classes']} classes"
        else:
            text = f"rmse {_fmt(dev['rmse'])}, mae {_fmt(dev['mae'])}, l2r {_fmt(dev['l2r'])}, r2 {_fmt(dev.get('r2'))}"
        for ref in ("float", "litert"):
            if ref in truth:
                value = truth[ref]["acc"] if truth["task"] == "classification" else truth[ref]["rmse"]
                text += f" ({ref}: {_pct(value) if truth['task'] == 'classification' else _fmt(value)})"
        rows.append((f"output {row['name']} vs labels", text))
    return rows


def _memory_text(mem: dict) -> str:
    arena = f"arena {_fmt(mem.get('arena_used_bytes'))} of {_fmt(mem.get('arena_bytes'))} B used"
    if mem.get("arena_estimate_bytes"):
        arena += f" (host estimate {_fmt(mem['arena_estimate_bytes'])} B)"
    return (f"flash {_fmt(mem.get('flash_bytes'))} B, ram {_fmt(mem.get('ram_bytes'))} B, {arena}, stack "
            f"{_fmt(mem.get('stack_bytes'))} B")


def summary_rows(report: VerifyReport) -> list[tuple[str, str]]:
    rows = [("board / runtime", f"{report.board} / {report.runtime}"),
            ("model", f"{report.model_path} (sha256 {report.model_sha256[:12]})"),
            ("inputs", f"{report.n_inputs} of {report.n_requested}" + (" (interrupted)" if report.interrupted else ""))]
    tflm = report.fidelity.get("tflm", {})
    if tflm.get("compared"):
        rows.append(("tflm exact match", _exactness_text(tflm)))
    for name in ("litert", "float"):
        d = report.fidelity.get(name, {})
        if d.get("skipped"):
            rows.append((f"{name} drift", f"skipped: {d['skipped']}"))
        elif d.get("compared"):
            rows.append((f"{name} drift", _drift_text(name, d)))
    rows += _labels_rows(report)
    lat = report.latency
    if lat.get("count"):
        rows.append((f"latency [{lat['label']}]", f"min {_fmt(lat['min'])}  median {_fmt(lat['median'])}  "
                                                  f"p99 {_fmt(lat['p99'])}  max {_fmt(lat['max'])}"))
    rows.append(("memory", _memory_text(report.memory)))
    link = report.link
    rows.append(("link", f"{link.get('retries', 0)} retries, {link.get('reboots', 0)} resets, payload efficiency "
                         f"{(link.get('payload_efficiency') or 0) * 100:.1f} %"))
    for check in report.checks:
        rows.append(("PASS" if check.passed else "FAIL", check.describe()))
    return rows


def output_table_rows(report: VerifyReport, *, long: bool = True) -> list[tuple[str, str, dict]]:
    """(output, compared with, metrics) rows of the ST-validate style table."""
    rows = []
    for row in report.outputs:
        label = f"{row['index']}: {row['name']}" + (f" {row['dtype']}{row['shape']}" if long else "")
        for ref in ("tflm", "litert", "float"):
            if ref in row:
                rows.append((label, ref, row[ref]))
        truth = row.get("labels", {})
        if "device" in truth:
            rows.append((label, "labels", truth["device"]))
        for ref in ("float", "litert"):  # what the references score against the same labels
            if ref in truth:
                rows.append((label, f"labels ({ref})", truth[ref]))
    return rows


def print_summary(report: VerifyReport, console: Any = None) -> None:
    from tinydeploy.progress import table_console
    from rich.table import Table
    from rich.text import Text

    console = console or table_console()
    title = "verify: " + ("PASSED" if report.passed else "INTERRUPTED" if report.interrupted else "FAILED")
    table = Table(title=title, show_header=False)
    table.add_column(style="bold")
    table.add_column()
    for key, value in summary_rows(report):
        style = "green" if key == "PASS" else "red" if key == "FAIL" else None
        table.add_row(Text(key), Text(value), style=style)  # Text: "[ns]" is not rich markup
    console.print(table)
    rows = output_table_rows(report, long=False)  # the terminal is narrow: dtype and shape are in the files
    if rows:
        per_output = Table(title="per output (real units)")
        for column in ("output", "vs", *METRIC_COLUMNS):
            per_output.add_column(column, justify="left" if column in ("output", "vs") else "right")
        for label, ref, m in rows:
            per_output.add_row(Text(label), ref, *(_metric_cell(c, m.get(c)) for c in METRIC_COLUMNS))
        console.print(per_output)
    for row in report.outputs:
        truth = row.get("labels", {}).get("device", {})
        if truth.get("confusion_matrix") and truth["n_classes"] <= MAX_TERMINAL_CLASSES:
            console.print(_confusion_table(truth, f"output {row['name']}: confusion matrix (rows: true, columns: predicted)"))


def _confusion_table(truth: dict, title: str) -> Any:
    from rich.table import Table

    table = Table(title=title)
    table.add_column("true \\ pred")
    for c in range(truth["n_classes"]):
        table.add_column(str(c), justify="right")
    table.add_column("accuracy", justify="right")
    for c, (counts, acc) in enumerate(zip(truth["confusion_matrix"], truth["per_class_accuracy"])):
        table.add_row(str(c), *(str(v) for v in counts), _pct(acc))
    return table


def _metric_cell(column: str, value: Any) -> str:
    if value is None:
        return "-"
    return _pct(value) if column == "acc" else _fmt(value)


# ---- SVG plots --------------------------------------------------------------------------------------------


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2, 5 x 10^k steps) covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks = []
    value = first
    while value <= hi + step * 1e-9:
        ticks.append(0.0 if abs(value) < step * 1e-9 else value)
        value += step
    return ticks


def _tick_label(value: float) -> str:
    if value == int(value) and abs(value) < 1e6:
        return f"{int(value):,}"
    return f"{value:.3g}"


class _Axes:
    """A plot area with linear x/y scales, tick marks, grid lines and axis titles, drawn as SVG."""

    def __init__(self, title: str, xlabel: str, ylabel: str, x: tuple[float, float], y: tuple[float, float],
                 width: int = 560, height: int = 260, integer_x: bool = False) -> None:
        self.integer_x = integer_x  # x ticks on whole numbers only (LSB, instruction counts)
        self.width, self.height = width, height
        self.left, self.right, self.top, self.bottom = 64, 16, 26, 46
        self.x0, self.x1 = x if x[1] > x[0] else (x[0] - 0.5, x[0] + 0.5)
        self.y0, self.y1 = y if y[1] > y[0] else (y[0] - 0.5, y[0] + 0.5)
        self.parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
                      f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11" role="img">',
                      f'<title>{html.escape(title)}</title>',
                      f'<text x="{width / 2}" y="15" text-anchor="middle" font-weight="bold">{html.escape(title)}</text>']
        self._axes(xlabel, ylabel)

    @property
    def plot_w(self) -> float:
        return self.width - self.left - self.right

    @property
    def plot_h(self) -> float:
        return self.height - self.top - self.bottom

    def px(self, x: float) -> float:
        return self.left + (x - self.x0) / (self.x1 - self.x0) * self.plot_w

    def py(self, y: float) -> float:
        return self.top + self.plot_h - (y - self.y0) / (self.y1 - self.y0) * self.plot_h

    def _axes(self, xlabel: str, ylabel: str) -> None:
        bottom, p = self.top + self.plot_h, self.parts
        x_ticks = nice_ticks(self.x0, self.x1)
        if self.integer_x:
            x_ticks = [t for t in x_ticks if t == int(t)] or [float(round((self.x0 + self.x1) / 2))]
        for tick in x_ticks:
            x = self.px(tick)
            p.append(f'<line x1="{x:.1f}" y1="{bottom}" x2="{x:.1f}" y2="{bottom + 4}" stroke="#333"/>')
            p.append(f'<text x="{x:.1f}" y="{bottom + 15}" text-anchor="middle">{_tick_label(tick)}</text>')
        for tick in nice_ticks(self.y0, self.y1):
            y = self.py(tick)
            p.append(f'<line x1="{self.left}" y1="{y:.1f}" x2="{self.left + self.plot_w}" y2="{y:.1f}" stroke="#eee"/>')
            p.append(f'<text x="{self.left - 6}" y="{y + 4:.1f}" text-anchor="end">{_tick_label(tick)}</text>')
        p.append(f'<line x1="{self.left}" y1="{bottom}" x2="{self.left + self.plot_w}" y2="{bottom}" stroke="#333"/>')
        p.append(f'<line x1="{self.left}" y1="{self.top}" x2="{self.left}" y2="{bottom}" stroke="#333"/>')
        p.append(f'<text x="{self.left + self.plot_w / 2}" y="{self.height - 8}" text-anchor="middle">'
                 f'{html.escape(xlabel)}</text>')
        mid = self.top + self.plot_h / 2
        p.append(f'<text x="14" y="{mid}" text-anchor="middle" transform="rotate(-90 14 {mid})">'
                 f'{html.escape(ylabel)}</text>')

    def svg(self) -> str:
        return "".join(self.parts) + "</svg>"


def _empty_plot(title: str, width: int = 560) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="40" font-family="sans-serif" '
            f'font-size="11"><text x="4" y="24">{html.escape(title)}: no data</text></svg>')


def svg_histogram(values: np.ndarray, title: str, xlabel: str, *, bins: int = 30, width: int = 560,
                  height: int = 260, integer: bool = False) -> str:
    """A histogram of `values` as an inline <svg> element with labelled, ticked axes (no script, no assets)."""
    values = np.asarray(values, dtype=np.float64).ravel()
    values = values[np.isfinite(values)]
    if values.size == 0:
        return _empty_plot(title, width)
    lo, hi = float(values.min()), float(values.max())
    if integer and hi - lo < bins:
        edges = np.arange(lo - 0.5, hi + 1.5)
    else:
        edges = np.linspace(lo, hi if hi > lo else lo + 1, bins + 1)
    counts, edges = np.histogram(values, bins=edges)
    axes = _Axes(title, xlabel, "count", (float(edges[0]), float(edges[-1])), (0.0, float(max(counts.max(), 1))),
                 width, height, integer_x=integer)
    for i, count in enumerate(counts):
        x, x_end = axes.px(edges[i]), axes.px(edges[i + 1])
        y = axes.py(count)
        tip = f"[{edges[i]:.4g}, {edges[i + 1]:.4g}): {count}"
        axes.parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(x_end - x - 1, 0.5):.1f}" '
                          f'height="{axes.top + axes.plot_h - y:.1f}" fill="#4a7fb5"><title>{html.escape(tip)}</title></rect>')
    return axes.svg()


def svg_scatter(true: np.ndarray, predicted: np.ndarray, title: str, *, width: int = 420, height: int = 360) -> str:
    """Predicted against true values with the y = x diagonal (regression outputs)."""
    true = np.asarray(true, dtype=np.float64).ravel()
    predicted = np.asarray(predicted, dtype=np.float64).ravel()
    keep = np.isfinite(true) & np.isfinite(predicted)
    true, predicted = true[keep], predicted[keep]
    if true.size == 0:
        return _empty_plot(title, width)
    if true.size > MAX_SCATTER_POINTS:  # an even subsample keeps the page small
        pick = np.linspace(0, true.size - 1, MAX_SCATTER_POINTS).astype(np.int64)
        true, predicted = true[pick], predicted[pick]
    lo = float(min(true.min(), predicted.min()))
    hi = float(max(true.max(), predicted.max()))
    pad = (hi - lo) * 0.05 or 0.5
    axes = _Axes(title, "true value", "predicted (device)", (lo - pad, hi + pad), (lo - pad, hi + pad), width, height)
    axes.parts.append(f'<line x1="{axes.px(lo - pad):.1f}" y1="{axes.py(lo - pad):.1f}" x2="{axes.px(hi + pad):.1f}" '
                      f'y2="{axes.py(hi + pad):.1f}" stroke="#c33" stroke-dasharray="4 3"/>')
    for t, p in zip(true, predicted):
        axes.parts.append(f'<circle cx="{axes.px(t):.1f}" cy="{axes.py(p):.1f}" r="2.5" fill="#4a7fb5" '
                          f'fill-opacity="0.6"/>')
    return axes.svg()


# ---- HTML -------------------------------------------------------------------------------------------------


def _section(title: str, body: str) -> str:
    return f"<section><h2>{html.escape(title)}</h2>\n{body}\n</section>"


def _summary_section(report: VerifyReport) -> str:
    rows = "".join(f'<tr class="{"fail" if k == "FAIL" else "pass" if k == "PASS" else ""}"><th>{html.escape(k)}</th>'
                   f"<td>{html.escape(v)}</td></tr>" for k, v in summary_rows(report))
    return _section("Summary", f"<table>{rows}</table>")


def _outputs_section(report: VerifyReport) -> str:
    rows = output_table_rows(report)
    if not rows:
        return ""
    head = "".join(f"<th>{c}</th>" for c in ("output", "compared with", *METRIC_COLUMNS))
    body = "".join(f"<tr><td>{html.escape(label)}</td><td>{html.escape(ref)}</td>"
                   + "".join(f'<td class="num">{html.escape(_metric_cell(c, m.get(c)))}</td>' for c in METRIC_COLUMNS)
                   + "</tr>" for label, ref, m in rows)
    note = ("<p>Real (dequantized) units.  acc: agreement of the predicted class (argmax); l2r: relative L2 error "
            "over the whole output; cos: cosine similarity of the whole output (every sample).</p>")
    return _section("Per output (as ST Edge AI validate)", f"<table><tr>{head}</tr>{body}</table>{note}")


def confusion_matrix_html(matrix: list[list[int]], title: str) -> str:
    """A confusion matrix as a shaded HTML table (rows: true class, columns: predicted class)."""
    counts = np.asarray(matrix, dtype=np.int64)
    peak = max(int(counts.max(initial=0)), 1)
    head = "".join(f"<th>{c}</th>" for c in range(len(counts)))
    rows = []
    for t, row in enumerate(counts):
        support = int(row.sum())
        cells = []
        for p, count in enumerate(row):
            alpha = 0.08 + 0.8 * count / peak if count else 0.0
            color = "74,127,181" if t == p else "204,51,51"
            style = f' style="background:rgba({color},{alpha:.2f})"' if count else ""
            cells.append(f'<td class="num"{style}>{count}</td>')
        recall = f"{row[t] / support * 100:.1f} %" if support else "-"
        rows.append(f"<tr><th>{t}</th>{''.join(cells)}<td class=\"num\">{recall}</td><td class=\"num\">{support}</td></tr>")
    return (f'<table class="cm"><caption>{html.escape(title)} (rows: true class, columns: predicted)</caption>'
            f"<tr><th>true \\ pred</th>{head}<th>accuracy</th><th>samples</th></tr>{''.join(rows)}</table>")


def _classification_section(report: VerifyReport) -> str:
    parts = []
    for row in report.outputs:
        truth = row.get("labels")
        if not truth or truth["task"] != "classification":
            continue
        dev = truth["device"]
        title = f"output {row['name']}: device accuracy {_pct(dev['acc'])}"
        if dev["n_classes"] > MAX_MATRIX_CLASSES:
            parts.append(f"<p>{html.escape(title)}; {dev['n_classes']} classes: the confusion matrix is in the "
                         f"JSON report (outputs[{row['index']}].labels.device.confusion_matrix).</p>")
        else:
            parts.append(confusion_matrix_html(dev["confusion_matrix"], title))
    return _section("Classification against the labels", "\n".join(parts)) if parts else ""


def _regression_section(report: VerifyReport) -> str:
    plots = []
    for row in report.outputs:
        truth = row.get("labels")
        k = row["index"]
        if not truth or truth["task"] != "regression" or f"labels_{k}" not in report.arrays:
            continue
        dev = truth["device"]
        plots.append(svg_scatter(report.arrays[f"labels_{k}"], report.arrays[f"device_real_{k}"],
                                 f"output {row['name']}: rmse {_fmt(dev['rmse'])}, r2 {_fmt(dev.get('r2'))}"))
    return _section("Regression: predicted vs true", "".join(f"<figure>{p}</figure>" for p in plots)) if plots else ""


def _latency_section(report: VerifyReport) -> str:
    unit = report.latency.get("label") or report.latency.get("unit") or ""
    plot = svg_histogram(np.asarray(report.latencies), "latency per inference", unit,
                         integer=report.latency.get("unit") != "ns")
    return _section("Latency", f"<figure>{plot}</figure>")


def _differences_section(report: VerifyReport) -> str:
    plots = []
    for k, err in enumerate(report.lsb_errors):
        relative = k < len(report.outputs) and report.outputs[k].get("diff_unit") == "relative"
        xlabel = "(device - tflm) / max |tflm| of the sample" if relative else "device - tflm (LSB)"
        plots.append(svg_histogram(err, f"output {k}: device - tflm", xlabel, integer=not relative))
    for k, err in enumerate(report.float_errors):
        plots.append(svg_histogram(err, f"output {k}: device - {report.float_reference}", "difference (real units)"))
    return _section("Differences", "".join(f"<figure>{p}</figure>" for p in plots)) if plots else ""


def html_sections(report: VerifyReport) -> list[str]:
    """The page's sections in order; each builder returns an HTML fragment ("" leaves it out).  A new
    section is one more builder in this list: figures a section needs travel in `report.extras` (also
    written to the JSON under their key), e.g. for --layers:
        lambda r: layers.html_fragment(r.extras.get("layers")),"""
    from tinydeploy.verify.layers import html_fragment as layers_fragment

    builders: list[Callable[[VerifyReport], str]] = [
        _summary_section, _outputs_section, _classification_section, _regression_section,
        _latency_section, lambda r: layers_fragment(r.extras.get("layers")), _differences_section,
    ]
    return [fragment for build in builders if (fragment := build(report))]


STYLE = """body{font-family:sans-serif;margin:2em;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:0.5em 0}
th,td{text-align:left;padding:3px 10px;border-bottom:1px solid #ddd}
td.num{text-align:right;font-variant-numeric:tabular-nums}
table.cm td,table.cm th{text-align:center;border:1px solid #ddd}
caption{text-align:left;font-weight:bold;padding:4px 0}
tr.fail{color:#c33} tr.pass{color:#2a7}
figure{display:inline-block;margin:8px}
details pre{background:#f6f6f6;padding:1em;overflow:auto;max-height:40em}"""


def write_html(report: VerifyReport, path: str | Path) -> Path:
    esc = html.escape
    status = "PASSED" if report.passed else "INTERRUPTED" if report.interrupted else "FAILED"
    color = {"PASSED": "#2a7", "FAILED": "#c33", "INTERRUPTED": "#c80"}[status]
    data = esc(json.dumps(_jsonable(report.to_dict()), indent=2))
    body = "\n".join(html_sections(report))
    text = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>tinydeploy verify: {esc(report.board)}</title>
<style>{STYLE}
.status{{color:{color};font-weight:bold}}</style></head>
<body><h1>tinydeploy verify: <span class="status">{status}</span></h1>
{body}
<details><summary>Report data (JSON)</summary><pre>{data}</pre></details>
</body></html>
"""
    return write_atomic(path, text)


def write_reports(report: VerifyReport, *, json_path: str | Path | None = None,
                  junit_path: str | Path | None = None, html_path: str | Path | None = None,
                  outputs_path: str | Path | None = None) -> list[Path]:
    written = []
    if json_path:
        written.append(write_json(report, json_path))
    if junit_path:
        written.append(write_junit(report, junit_path))
    if html_path:
        written.append(write_html(report, html_path))
    if outputs_path:
        written.append(write_outputs(report, outputs_path))
    return written
