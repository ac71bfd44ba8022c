"""`deploy inspect`: ops and their runtime support, tensors, MACs, parameter and activation memory, warnings."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HELP = "show a .tflite model's ops, runtime support, tensors, MACs, memory and warnings"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("inspect", help=HELP, description=HELP)
    parser.add_argument("model", type=Path, help="the .tflite file")
    parser.add_argument("--json", action="store_true", help="print everything as JSON")
    parser.add_argument("--tensors", action="store_true", help="also list every tensor (human output)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tinydeploy.inspect import inspect_model
    from tinydeploy.model.graph import load_model

    report = inspect_model(load_model(args.model))
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print_report(report, show_tensors=args.tensors)
    return 0


def _support(value: bool | None) -> str:
    return {True: "[green]yes[/]", False: "[red]no[/]", None: "?"}[value]


def _quant(t) -> str:  # t: Tensor
    if t.quant is None:
        return ""
    q = t.quant
    if q.per_channel:
        return f"per-channel x{q.scale.size} (axis {q.axis})"
    return f"s={float(q.scale[0]):.4g} zp={int(q.zero_point[0])}"


def print_report(report, *, show_tensors: bool = False) -> None:  # report: InspectReport
    from rich.console import Console
    from rich.table import Table

    from tinydeploy.inspect import tensor_kind

    model = report.model
    console = Console(file=sys.stdout, highlight=False, width=max(120, Console().width))
    console.print(f"[bold]{model.path}[/]  {len(model.raw):,} bytes  sha256 {model.sha256[:16]}")
    for kind, tensors in (("input", model.input_tensors), ("output", model.output_tensors)):
        for t in tensors:
            console.print(f"  {kind} '{t.name}' {list(t.shape)} {t.dtype} {_quant(t)}")

    ops = Table(title="operators", box=None, header_style="bold")
    for col, justify in (("#", "right"), ("op", "left"), ("v", "right"), ("output", "left"), ("dtype", "left"),
                         ("MACs", "right"), ("params", "right"), ("aot", "center"), ("tflm", "center")):
        ops.add_column(col, justify=justify)  # type: ignore[arg-type]
    for op in report.ops:
        ops.add_row(str(op.index), op.opcode, str(op.version), str(list(op.output_shape)), op.dtype,
                    f"{op.macs:,}" if op.macs else "", f"{op.param_bytes:,}" if op.param_bytes else "",
                    _support(op.runtimes.get("aot")), _support(op.runtimes.get("tflm")))
    console.print(ops)

    if show_tensors:
        tensors = Table(title="tensors", box=None, header_style="bold")
        for col in ("#", "name", "kind", "shape", "dtype", "bytes", "quantization"):
            tensors.add_column(col)
        for t in model.tensors:
            tensors.add_row(str(t.index), t.name[:60], tensor_kind(model, t), str(list(t.shape)), t.dtype,
                            f"{t.nbytes:,}", _quant(t))
        console.print(tensors)

    source = "planned arena" if report.arena_source == "plan" else "peak live activations (estimate)"
    console.print(f"MACs: {report.total_macs:,}   parameters: {report.param_bytes:,} bytes   "
                  f"{source}: {report.arena_bytes:,} bytes")
    if report.arena_note:
        console.print(f"  ({report.arena_note})")
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/] {warning}")
