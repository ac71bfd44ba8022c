"""Per-layer profiling and the layer-by-layer diff on the device (`deploy run|verify --layers[=outputs]`).

    section = measure_layers(link, model, samples, outputs=True)   # the report's "layers" section (JSON)
    print(layers_table(section))                                    # sorted by cost, with MACs and share
    html = html_fragment(section)                                   # latency bar chart for the HTML report

Latency: the firmware (built with -DTD_LAYERS) times every layer of a profiled inference with its latency
counter (instructions under QEMU, cycles on real boards, ns on the native board); each layer's figure is the
median over the profiled samples.  Outputs: for each layer k the device runs the inference again, stops after
layer k and streams that layer's output tensor in frame-sized chunks; TFLM's host interpreter, keeping every
tensor, gives the reference for the same sample.  The first layer whose output differs is named with its
max |diff| and the coordinates where it occurs.
"""

from __future__ import annotations

import html
from typing import Any, Sequence

import numpy as np

from tinydeploy.errors import LinkError, UserError
from tinydeploy.link.client import DeviceLink, InferResult, UnsupportedRequest
from tinydeploy.link.protocol import LayerEntry, LayersPage
from tinydeploy.macs import op_macs
from tinydeploy.model.graph import Model
from tinydeploy.verify.report import UNIT_LABELS

UNIT_SHORT = {"instructions": "instr", "cycles": "cycles", "ns": "ns"}
MODES = ("latency", "outputs")
MAX_PROFILED_SAMPLES = 3
REBUILD_HINT = "rebuild the firmware with per-layer support: deploy run MODEL --board BOARD --layers"


def layers_for_report(link: DeviceLink, model: Model, batches: Sequence[np.ndarray],
                      device_outputs: Sequence[Sequence[np.ndarray]], tflm: Sequence[np.ndarray],
                      mode: str) -> dict[str, Any]:
    """The `layers` section of a verify run: profile the first inputs; with mode "outputs", diff the layers
    on the first input whose outputs differed from TFLM (the first input when all matched)."""
    if mode not in MODES:
        raise UserError(f"--layers={mode}: unknown mode", hint=f"use --layers or --layers={MODES[1]}")
    count = len(device_outputs)
    samples = [[b[i : i + 1] for b in batches] for i in range(count)]
    diff_index = first_mismatch(device_outputs, tflm)
    return measure_layers(link, model, samples[:MAX_PROFILED_SAMPLES], outputs=mode == "outputs",
                          diff_input=samples[diff_index] if samples else None, diff_index=diff_index)


def first_mismatch(device_outputs: Sequence[Sequence[np.ndarray]], tflm: Sequence[np.ndarray]) -> int:
    """Index of the first input whose device outputs are not exactly TFLM's; 0 when every one matched."""
    for i, outputs in enumerate(device_outputs):
        if any(not np.array_equal(np.asarray(d).reshape(-1), np.asarray(r[i]).reshape(-1))
               for d, r in zip(outputs, tflm)):
            return i
    return 0


def measure_layers(link: DeviceLink, model: Model, samples: Sequence[Sequence[np.ndarray]], *,
                   outputs: bool = False, diff_input: Sequence[np.ndarray] | None = None,
                   diff_index: int = 0) -> dict[str, Any]:
    """Profile each layer over up to MAX_PROFILED_SAMPLES samples (one array per model input, batch 1) and,
    with `outputs`, diff every layer's output on `diff_input` (default: the first sample) against TFLM.
    Returns the report's `layers` section."""
    if not samples:
        raise UserError("--layers needs at least one input to profile")
    info = link.info or link.hello()
    unit = info.latency_unit
    scale = max(1, info.counter_scale)
    runs: list[tuple[InferResult, LayersPage]] = []
    for sample in samples[:MAX_PROFILED_SAMPLES]:
        result = _profiled_infer(link, sample, None)
        runs.append((result, _timed_layers(link)))
    entries = runs[0][1].entries
    _check_entries(link, model, entries)
    ticks = np.median(np.array([[e.ticks for e in page.entries] for _, page in runs], dtype=np.float64), axis=0)
    invoke = float(np.median([r.latency for r, _ in runs]))
    rows = _rows(model, entries, ticks * scale)
    section: dict[str, Any] = {
        "runtime": info.runtime, "unit": unit, "label": UNIT_LABELS.get(unit, unit), "samples": len(runs),
        "invoke_latency": invoke, "layers_total": float(sum(r["latency"] for r in rows)),
        "layers": rows, "outputs_compared": False, "first_divergence": None,
    }
    section["outside_layers"] = section["invoke_latency"] - section["layers_total"]
    if outputs:
        if not runs[0][1].outputs:
            raise UserError(f"the {info.runtime} firmware on {link.url} cannot stop after a layer, so it cannot "
                            "stream layer outputs (TFLM's Invoke() runs every op)",
                            hint="use --layers (latency only) with this runtime, or --runtime aot for the diff")
        section.update(diff_layers(link, model, samples[0] if diff_input is None else diff_input, entries, rows))
        section["diff_input"] = diff_index
    return section


def diff_layers(link: DeviceLink, model: Model, sample: Sequence[np.ndarray], entries: Sequence[LayerEntry],
                rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Stream each layer's output for `sample` and compare it with TFLM's; annotates `rows` with a `diff`."""
    from tinydeploy.reference.intermediates import tflm_intermediates

    reference = tflm_intermediates(model, sample, sorted({e.tensor for e in entries}))
    first = None
    for k, (entry, row) in enumerate(zip(entries, rows)):
        _profiled_infer(link, sample, k)
        tensor = model.tensors[entry.tensor]
        raw = link.read_layer(k, entry.nbytes)
        device = np.frombuffer(raw, dtype=np.dtype(tensor.numpy_dtype).newbyteorder("<")).astype(tensor.numpy_dtype)
        row["diff"] = compare_tensor(device, reference[entry.tensor], tuple(tensor.shape))
        row["diff"].update(_units(tensor, row["diff"]["max_abs_diff"]))
        if first is None and row["diff"]["mismatches"]:
            first = {key: row[key] for key in ("layer", "op", "opcode", "tensor")} | row["diff"]
    return {"outputs_compared": True, "first_divergence": first}


def _units(tensor: Any, max_abs_diff: float | int | None) -> dict[str, Any]:
    """What a difference of this tensor means: LSB of an integer tensor and, when quantized, real units."""
    if tensor.dtype.startswith("float"):
        return {"diff_unit": "real"}
    scale = float(tensor.quant.scale[0]) if tensor.quant is not None and tensor.quant.scale.size else 0.0
    real = max_abs_diff * scale if scale and max_abs_diff is not None else None
    return {"diff_unit": "LSB", "max_abs_diff_real": real}


def compare_tensor(device: np.ndarray, reference: np.ndarray, shape: tuple[int, ...]) -> dict[str, Any]:
    """Exact comparison of one layer output: mismatching elements, max |diff| and where it is."""
    device = device.reshape(-1)
    reference = np.asarray(reference).reshape(-1)
    if device.size != reference.size:
        return {"mismatches": int(max(device.size, reference.size)), "max_abs_diff": None, "where": None,
                "flat_index": None, "device": None, "reference": None,
                "note": f"device sent {device.size} values, TFLM has {reference.size}"}
    wide = np.float64 if np.issubdtype(device.dtype, np.floating) else np.int64
    diff = np.abs(device.astype(wide) - reference.astype(wide))
    mismatches = int(np.count_nonzero(device != reference))
    at = int(np.argmax(diff)) if diff.size else 0
    where = [int(i) for i in np.unravel_index(at, shape)] if diff.size and int(np.prod(shape)) == diff.size else [at]
    return {"mismatches": mismatches, "max_abs_diff": _number(diff[at]) if diff.size else 0,
            "where": where if mismatches else None, "flat_index": at if mismatches else None,
            "device": _number(device[at]) if mismatches else None,
            "reference": _number(reference[at]) if mismatches else None}


# ---- device interaction ---------------------------------------------------------------------------------


def _profiled_infer(link: DeviceLink, sample: Sequence[np.ndarray], stop_after: int | None) -> InferResult:
    """One profiled inference; again if the device reset in between (a reset forgets the PROFILE request)."""
    try:
        for _ in range(2):
            reboots = link.stats.reboots
            link.profile_next(stop_after)
            result = link.infer(list(sample))
            if link.stats.reboots == reboots:
                return result
    except UnsupportedRequest as err:
        raise UserError(f"the firmware on {link.url} has no per-layer support: {err.message}",
                        hint=REBUILD_HINT) from None
    raise LinkError(f"{link.url}: the device reset during every profiled inference",
                    hint="it probably crashes on this input: check the arena size and the stack")


def _timed_layers(link: DeviceLink) -> LayersPage:
    page = link.layers()
    if page.count == 0:
        raise UserError(f"the firmware on {link.url} reports no layers", hint=REBUILD_HINT)
    if not page.timed:
        raise LinkError(f"{link.url}: the device did not time the profiled inference",
                        hint="the firmware and the host disagree about the layers extension: rebuild the firmware")
    return page


def _check_entries(link: DeviceLink, model: Model, entries: Sequence[LayerEntry]) -> None:
    for entry in entries:
        if entry.op >= len(model.operators) or entry.tensor >= len(model.tensors) \
                or model.tensors[entry.tensor].nbytes != entry.nbytes:
            raise UserError(f"the firmware on {link.url} reports layer op #{entry.op} -> tensor {entry.tensor} "
                            f"({entry.nbytes} B), which {model.path or 'the model'} does not have",
                            hint="build and flash the firmware for this model")


def _rows(model: Model, entries: Sequence[LayerEntry], latencies: np.ndarray) -> list[dict[str, Any]]:
    total = float(latencies.sum())
    rows = []
    for k, (entry, latency) in enumerate(zip(entries, latencies)):
        op = model.operators[entry.op]
        macs = op_macs(model, op)
        rows.append({"layer": k, "op": entry.op, "opcode": op.opcode, "tensor": model.tensors[entry.tensor].name,
                     "tensor_index": entry.tensor, "bytes": entry.nbytes, "macs": macs, "latency": float(latency),
                     "per_mac": float(latency) / macs if macs else None,
                     "share": float(latency) / total if total > 0 else 0.0})
    return rows


def _number(value: Any) -> float | int:
    value = np.asarray(value).item()
    return float(value) if isinstance(value, float) else int(value)


# ---- renderings -------------------------------------------------------------------------------------------


def _fmt(value: float | int | None, digits: int = 3) -> str:
    if value is None:
        return "-"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.{digits}g}" if abs(value) < 1000 else f"{value:,.0f}"


def describe_divergence(section: dict[str, Any]) -> str:
    """One line: the first layer that differs from TFLM and by how much, or that none does."""
    if not section.get("outputs_compared"):
        return ""
    first = section.get("first_divergence")
    if not first:
        return f"every layer output matches TFLM bit for bit ({len(section['layers'])} layers)"
    where = "[" + ", ".join(str(i) for i in first["where"]) + "]" if first.get("where") else "?"
    size = f"{_fmt(first['max_abs_diff'])}" + (" LSB" if first.get("diff_unit") == "LSB" else "")
    if first.get("max_abs_diff_real") is not None:
        size += f" ({_fmt(first['max_abs_diff_real'])} in real units)"
    return (f"first diverging layer: #{first['op']} {first['opcode']} -> '{first['tensor']}': max |diff| "
            f"{size} at {where} (device {_fmt(first['device'])}, tflm {_fmt(first['reference'])}), "
            f"{first['mismatches']:,} values differ")


def table_rows(section: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the per-layer table, most expensive layer first.  Columns: op, layer, then the
    numbers (right-aligned), the output tensor's name last (the one that may be cut to fit a terminal)."""
    short = UNIT_SHORT.get(section["unit"], section["unit"])
    diffed = section.get("outputs_compared")
    header = ["op", "layer", "MACs", short, f"{short}/MAC", "share", *(["max |diff|"] if diffed else []),
              "output tensor"]
    rows = []
    for row in sorted(section["layers"], key=lambda r: -r["latency"]):
        cells = [f"#{row['op']}", row["opcode"], _fmt(row["macs"]), _fmt(row["latency"]), _fmt(row["per_mac"]),
                 f"{row['share'] * 100:.1f}%"]
        if diffed:
            cells.append(_fmt(row.get("diff", {}).get("max_abs_diff")))
        rows.append([*cells, row["tensor"]])
    return header, rows


def _numeric(column: int, header: list[str]) -> bool:
    return 2 <= column < len(header) - 1


def footer_lines(section: dict[str, Any]) -> list[str]:
    total_macs = sum(r["macs"] for r in section["layers"])
    per_mac = section["layers_total"] / total_macs if total_macs else None
    lines = [f"{len(section['layers'])} layers: {_fmt(section['layers_total'])} {section['label']} "
             f"({_fmt(per_mac)} per MAC over {_fmt(total_macs)} MACs); whole inference "
             f"{_fmt(section['invoke_latency'])}, outside the layers {_fmt(section['outside_layers'])} "
             f"(median of {section['samples']} profiled inference{'s' if section['samples'] != 1 else ''})"]
    divergence = describe_divergence(section)
    if divergence:
        lines.append(divergence)
    return lines


def print_layers(section: dict[str, Any], console: Any = None) -> None:
    from rich import box
    from tinydeploy.progress import table_console
    from rich.table import Table
    from rich.text import Text

    console = console or table_console()
    header, rows = table_rows(section)
    table = Table(title=f"per-layer latency ({section['runtime']}, {section['label']})", box=box.SIMPLE_HEAD)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    # Every column but the tensor name keeps its width; the name gets what is left of the terminal.
    room = max(16, console.width - sum(w + 2 for w in widths[:-1]) - 8)
    for i, name in enumerate(header):
        table.add_column(name, justify="right" if _numeric(i, header) else "left", no_wrap=True,
                         min_width=min(widths[i], room) if i == len(header) - 1 else widths[i])
    for cells, name in zip(rows, _short_names([r[-1] for r in rows], room)):
        table.add_row(*(Text(c) for c in cells[:-1]), Text(name))
    console.print(table)
    for line in footer_lines(section):
        console.print(Text(line), style="red" if line.startswith("first diverging") else None)


def _short_names(names: list[str], width: int) -> list[str]:
    """Tensor names that fit `width` characters for the terminal (the reports keep them whole): the first part
    of a fused name ("a/conv/Relu;a/conv/BiasAdd"), without the model-name component most names share, cut
    at the end."""
    names = [n.split(";")[0] for n in names]
    heads = [n.split("/", 1)[0] + "/" for n in names if "/" in n]
    common = max(set(heads), key=heads.count) if heads else ""
    if common and heads.count(common) * 2 >= len(names):
        names = [n[len(common):] if n.startswith(common) else n for n in names]
    return [n if len(n) <= width else n[: max(1, width - 1)] + "…" for n in names]


def layers_table(section: dict[str, Any]) -> str:
    """The table as plain text (logs, tests)."""
    header, rows = table_rows(section)
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if _numeric(i, header) else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return "\n".join([line(header), *(line(r) for r in rows), *footer_lines(section)])


def html_fragment(section: dict[str, Any] | None) -> str:
    """A <section> for the HTML report: per-layer latency bars in execution order (the first diverging layer
    in red) and the sorted table; empty when the run had no --layers."""
    if not section or not section.get("layers"):
        return ""
    esc = html.escape
    header, rows = table_rows(section)
    cell_style = [' class="num"' if _numeric(i, header) else "" for i in range(len(header) - 1)]
    cell_style.append(' style="word-break:break-all"')
    table = ("<table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr>"
             + "".join("<tr>" + "".join(f"<td{style}>{esc(c)}</td>" for style, c in zip(cell_style, r)) + "</tr>"
                       for r in rows) + "</table>")
    notes = "".join(f"<p>{esc(line)}</p>" for line in footer_lines(section))
    return (f'<section id="layers"><h2>Per-layer latency</h2>{latency_chart(section)}{notes}{table}</section>')


def latency_chart(section: dict[str, Any], *, width: int = 760) -> str:
    """Horizontal bars, one per layer in execution order, labelled with the op and its share."""
    esc = html.escape
    layers = section["layers"]
    first = (section.get("first_divergence") or {}).get("layer")
    bar_h, gap, left, right, top = 16, 4, 220, 140, 28
    height = top + len(layers) * (bar_h + gap) + 30
    peak = max((r["latency"] for r in layers), default=0.0) or 1.0
    plot_w = width - left - right
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
             f'font-size="11" role="img" aria-label="per-layer latency">',
             f'<text x="{width / 2}" y="16" text-anchor="middle" font-weight="bold">latency per layer '
             f'[{esc(section["label"])}]</text>']
    for i, row in enumerate(layers):
        y = top + i * (bar_h + gap)
        w = plot_w * row["latency"] / peak
        color = "#c33" if row["layer"] == first else "#4a7fb5"
        label = f"#{row['op']} {row['opcode']}"
        tip = f"{label} -> {row['tensor']}: {_fmt(row['latency'])} ({row['share'] * 100:.1f} %)"
        parts.append(f'<text x="{left - 6}" y="{y + bar_h - 4}" text-anchor="end">{esc(label)}</text>')
        parts.append(f'<rect x="{left}" y="{y}" width="{max(w, 0.5):.1f}" height="{bar_h}" fill="{color}">'
                     f'<title>{esc(tip)}</title></rect>')
        parts.append(f'<text x="{left + w + 4:.1f}" y="{y + bar_h - 4}">{esc(_fmt(row["latency"]))} '
                     f'({row["share"] * 100:.1f} %)</text>')
    axis_y = top + len(layers) * (bar_h + gap) + 4
    parts.append(f'<line x1="{left}" y1="{axis_y}" x2="{left + plot_w}" y2="{axis_y}" stroke="#333"/>')
    parts.append(f'<text x="{left}" y="{axis_y + 14}">0</text>')
    parts.append(f'<text x="{left + plot_w}" y="{axis_y + 14}" text-anchor="end">{esc(_fmt(peak))}</text>')
    parts.append("</svg>")
    return "".join(parts)
