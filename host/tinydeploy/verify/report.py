"""The result of a verification and its renderings: terminal table, JSON, JUnit XML, self-contained HTML.

Every file is written atomically (temporary file in the same directory, then rename), so a reader never
sees half a report, even when the run was interrupted.
"""

from __future__ import annotations

import html
import json
import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tinydeploy.errors import CheckFailed
from tinydeploy.files import write_atomic

UNIT_LABELS = {"instructions": "instructions (emulated)", "cycles": "cycles", "ns": "ns"}


@dataclass
class Check:
    name: str  # "fidelity.tflm.exact_match_rate"
    value: float | None
    limit: float
    op: str  # ">=" or "<="
    passed: bool

    def describe(self) -> str:
        value = "n/a" if self.value is None else f"{self.value:g}"
        return f"{self.name} = {value} (must be {self.op} {self.limit:g})"


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
    lsb_errors: list[np.ndarray] = field(default_factory=list, repr=False)  # per output: device - tflm
    float_errors: list[np.ndarray] = field(default_factory=list, repr=False)  # per output: device - float/litert
    float_reference: str = ""
    thresholds: dict[str, Any] = field(default_factory=dict)

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
            "latency": self.latency,
            "memory": self.memory,
            "link": self.link,
            "thresholds": self.thresholds,
            "checks": [c.__dict__ for c in self.checks],
        }


# ---- atomic files ---------------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(report: VerifyReport, path: str | Path) -> Path:
    return write_atomic(path, json.dumps(_jsonable(report.to_dict()), indent=2) + "\n")


def write_junit(report: VerifyReport, path: str | Path) -> Path:
    suite = ET.Element("testsuite", name=f"deploy verify {report.board}")
    props = ET.SubElement(suite, "properties")
    for name, value in (("board", report.board), ("runtime", report.runtime), ("model", report.model_path),
                        ("model.sha256", report.model_sha256), ("n_inputs", report.n_inputs),
                        ("latency.unit", report.latency.get("unit")),
                        ("latency.median", report.latency.get("median"))):
        ET.SubElement(props, "property", name=name, value=str(value))
    cases = list(report.checks)
    failures = 0
    for check in cases:
        case = ET.SubElement(suite, "testcase", classname=f"verify.{report.board}", name=check.name)
        if not check.passed:
            failures += 1
            ET.SubElement(case, "failure", message=check.describe()).text = check.describe()
    errors = 0
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


def summary_rows(report: VerifyReport) -> list[tuple[str, str]]:
    rows = [("board / runtime", f"{report.board} / {report.runtime}"),
            ("model", f"{report.model_path} (sha256 {report.model_sha256[:12]})"),
            ("inputs", f"{report.n_inputs} of {report.n_requested}" + (" (interrupted)" if report.interrupted else ""))]
    tflm = report.fidelity.get("tflm", {})
    if tflm.get("compared"):
        rows.append(("tflm exact match", f"{_fmt(tflm['exact_match_rate'] * 100, 5)} % "
                                         f"({tflm['mismatches']} mismatched, max |diff| {tflm['max_abs_diff_lsb']} LSB)"))
    for name in ("litert", "float"):
        d = report.fidelity.get(name, {})
        if d.get("skipped"):
            rows.append((f"{name} drift", f"skipped: {d['skipped']}"))
        elif d.get("compared"):
            text = (f"max {_fmt(d['max_abs_error'])}, mean {_fmt(d['mean_abs_error'])}, cos {d['cosine_similarity']:.5f}, "
                    f"top-1 agree {d['top1_agreement'] * 100:.1f} %")
            if "accuracy" in d:
                text += f", {name} accuracy {d['accuracy'] * 100:.1f} %"
            rows.append((f"{name} drift", text))
    if "device_accuracy" in report.fidelity:
        rows.append(("device accuracy", f"{report.fidelity['device_accuracy'] * 100:.2f} %"))
    lat = report.latency
    if lat.get("count"):
        rows.append((f"latency [{lat['label']}]", f"min {_fmt(lat['min'])}  median {_fmt(lat['median'])}  "
                                                  f"p99 {_fmt(lat['p99'])}  max {_fmt(lat['max'])}"))
    mem = report.memory
    rows.append(("memory", f"flash {_fmt(mem.get('flash_bytes'))} B, ram {_fmt(mem.get('ram_bytes'))} B, arena "
                           f"{_fmt(mem.get('arena_used_bytes'))}/{_fmt(mem.get('arena_bytes'))} B, stack "
                           f"{_fmt(mem.get('stack_bytes'))} B"))
    link = report.link
    rows.append(("link", f"{link.get('retries', 0)} retries, {link.get('reboots', 0)} resets, payload efficiency "
                         f"{(link.get('payload_efficiency') or 0) * 100:.1f} %"))
    for check in report.checks:
        rows.append(("PASS" if check.passed else "FAIL", check.describe()))
    return rows


def print_summary(report: VerifyReport, console: Any = None) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = console or Console()
    title = "verify: " + ("PASSED" if report.passed else "INTERRUPTED" if report.interrupted else "FAILED")
    table = Table(title=title, show_header=False)
    table.add_column(style="bold")
    table.add_column()
    for key, value in summary_rows(report):
        style = "green" if key == "PASS" else "red" if key == "FAIL" else None
        table.add_row(Text(key), Text(value), style=style)  # Text: "[ns]" is not rich markup
    console.print(table)


# ---- HTML with inline SVG -------------------------------------------------------------------------------


def svg_histogram(values: np.ndarray, title: str, xlabel: str, *, bins: int = 30, width: int = 560,
                  height: int = 220, integer: bool = False) -> str:
    """A bar chart of `values` as an inline <svg> element (no script, no external assets)."""
    values = np.asarray(values, dtype=np.float64).ravel()
    esc = html.escape
    if values.size == 0:
        return f'<svg width="{width}" height="40"><text x="4" y="24">{esc(title)}: no data</text></svg>'
    lo, hi = float(values.min()), float(values.max())
    if integer and hi - lo < bins:
        edges = np.arange(lo - 0.5, hi + 1.5)
    else:
        edges = np.linspace(lo, hi if hi > lo else lo + 1, bins + 1)
    counts, edges = np.histogram(values, bins=edges)
    left, right, top, bottom = 50, 10, 24, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max(int(counts.max()), 1)
    bar_w = plot_w / len(counts)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'font-family="sans-serif" font-size="11">',
             f'<text x="{width / 2}" y="14" text-anchor="middle" font-weight="bold">{esc(title)}</text>',
             f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#333"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#333"/>',
             f'<text x="{left - 4}" y="{top + 8}" text-anchor="end">{peak}</text>',
             f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end">0</text>']
    for i, count in enumerate(counts):
        h = plot_h * count / peak
        x = left + i * bar_w
        tip = f"[{edges[i]:.4g}, {edges[i + 1]:.4g}): {count}"
        parts.append(f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{max(bar_w - 1, 0.5):.1f}" '
                     f'height="{h:.1f}" fill="#4a7fb5"><title>{esc(tip)}</title></rect>')
    parts.append(f'<text x="{left}" y="{top + plot_h + 14}" text-anchor="start">{edges[0]:.4g}</text>')
    parts.append(f'<text x="{left + plot_w}" y="{top + plot_h + 14}" text-anchor="end">{edges[-1]:.4g}</text>')
    parts.append(f'<text x="{left + plot_w / 2}" y="{height - 6}" text-anchor="middle">{esc(xlabel)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def write_html(report: VerifyReport, path: str | Path) -> Path:
    esc = html.escape
    status = "PASSED" if report.passed else "INTERRUPTED" if report.interrupted else "FAILED"
    color = {"PASSED": "#2a7", "FAILED": "#c33", "INTERRUPTED": "#c80"}[status]
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in summary_rows(report))
    unit = report.latency.get("label") or report.latency.get("unit") or ""
    plots = [svg_histogram(np.asarray(report.latencies), "latency per inference", unit,
                           integer=report.latency.get("unit") != "ns")]
    for k, err in enumerate(report.lsb_errors):
        plots.append(svg_histogram(err, f"output {k}: device - tflm", "difference (LSB)", integer=True))
    for k, err in enumerate(report.float_errors):
        plots.append(svg_histogram(err, f"output {k}: device - {report.float_reference}", "difference (real units)"))
    body = "\n".join(f"<figure>{p}</figure>" for p in plots)
    data = esc(json.dumps(_jsonable(report.to_dict()), indent=2))
    text = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>tinydeploy verify: {esc(report.board)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1200px}} table{{border-collapse:collapse}}
th,td{{text-align:left;padding:3px 10px;border-bottom:1px solid #ddd}} figure{{display:inline-block;margin:8px}}
.status{{color:{color};font-weight:bold}} pre{{background:#f6f6f6;padding:1em;overflow:auto}}</style></head>
<body><h1>tinydeploy verify: <span class="status">{status}</span></h1>
<table>{rows}</table>
<h2>Plots</h2>
{body}
<h2>Report data</h2><pre>{data}</pre>
</body></html>
"""
    return write_atomic(path, text)


def write_reports(report: VerifyReport, *, json_path: str | Path | None = None,
                  junit_path: str | Path | None = None, html_path: str | Path | None = None) -> list[Path]:
    written = []
    if json_path:
        written.append(write_json(report, json_path))
    if junit_path:
        written.append(write_junit(report, junit_path))
    if html_path:
        written.append(write_html(report, html_path))
    return written
