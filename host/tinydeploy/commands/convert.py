"""`deploy convert`: Keras / SavedModel / .tflite in, a checked .tflite out, with a conversion report."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tinydeploy.convert.tflite import IO_DTYPES, MODES

HELP = "convert a Keras model or SavedModel to .tflite (float32, dynamic, float16, int8, int16x8, qat)"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("convert", help=HELP, description=HELP)
    parser.add_argument("model", type=Path,
                        help=".keras/.h5 file, SavedModel directory, .tflite, or zoo:NAME (a tinydeploy.zoo model)")
    parser.add_argument("-o", "--output", type=Path, help="where to write the .tflite")
    parser.add_argument("--mode", default="int8", choices=(*MODES, "qat"), help="quantization (default int8)")
    parser.add_argument("--rep-data", metavar="X",
                        help="calibration inputs: .npy, .npz, image directory, .csv or module:function")
    parser.add_argument("--rep-samples", type=int, default=200, metavar="N",
                        help="calibration samples to use (default 200)")
    parser.add_argument("--io-dtype", choices=IO_DTYPES, help="input/output dtype (default: the mode's own)")
    parser.add_argument("--eval-data", metavar="X", help="inputs to compare float vs converted outputs on")
    parser.add_argument("--eval-labels", metavar="Y",
                        help="labels for --eval-data (.npy, .npz, .csv): class indices/one-hot, or regression "
                             "targets; gives accuracy (or rmse/mae) of the float and converted models")
    parser.add_argument("--converter", default="auto", choices=("auto", "keras3", "legacy"),
                        help="Keras models: auto (default: LSTMs through legacy Keras for the fused LSTM op, "
                             "the rest Keras 3), keras3 (recurrent layers unrolled), legacy (tf_keras)")
    parser.add_argument("--train-data", metavar="X.npz", help="--mode qat: training data with x and y arrays")
    parser.add_argument("--epochs", type=int, default=2, help="--mode qat: fine-tuning epochs (default 2)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tinydeploy.errors import UserError

    if args.mode == "qat":
        from tinydeploy.commands.qat import run_qat

        return run_qat(args)
    if args.output is None and args.model.suffix.lower() != ".tflite":
        raise UserError("missing -o/--output: where should the .tflite go?", hint="add -o model.tflite")
    if args.rep_samples <= 0:
        raise UserError(f"--rep-samples must be positive, got {args.rep_samples}")
    from tinydeploy.convert.pipeline import convert_model

    result = convert_model(args.model, args.mode, output=args.output, rep_data=args.rep_data,
                           rep_samples=args.rep_samples, io_dtype=args.io_dtype, eval_data=args.eval_data,
                           eval_labels=args.eval_labels, progress=not args.json, converter=args.converter)
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        print_report(result)
    return 0


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    return f"{n:,} B" if n < 10_000 else f"{n / 1024:,.1f} KiB"


def print_report(result) -> None:  # result: ConvertResult
    from rich.console import Console
    from rich.table import Table

    console = Console(file=sys.stdout, highlight=False)
    target = result.output or result.source
    via = f", {result.converter} converter" if getattr(result, "converter", None) else ""
    console.print(f"[bold]{result.source}[/] -> [bold]{target}[/]  mode {result.mode}, io {result.io_dtype}{via}")
    sizes = Table(show_header=True, box=None, pad_edge=False)
    sizes.add_column("")
    sizes.add_column("bytes", justify="right")
    sizes.add_row(f"source ({result.source_kind})", _size(result.size_before))
    if result.float_weight_bytes is not None:
        sizes.add_row("float32 weights", _size(result.float_weight_bytes))
    sizes.add_row(".tflite", _size(result.size_after))
    console.print(sizes)
    console.print("ops: " + ", ".join(f"{name} x{n}" for name, n in result.ops.items()))
    ev = result.evaluation
    if ev is not None:
        console.print(f"float vs converted on {ev.samples} samples (converted run by {ev.backend}):")
        table = Table(box=None)
        table.add_column("metric")
        table.add_column("value", justify="right")
        if ev.float_accuracy is not None:
            table.add_row("accuracy float", f"{ev.float_accuracy:.2%}")
            table.add_row("accuracy converted", f"{ev.converted_accuracy:.2%}")
        if ev.float_rmse is not None:
            table.add_row("rmse float vs targets", f"{ev.float_rmse:.4g}")
            table.add_row("rmse converted vs targets", f"{ev.converted_rmse:.4g}")
            table.add_row("mae float vs targets", f"{ev.float_mae:.4g}")
            table.add_row("mae converted vs targets", f"{ev.converted_mae:.4g}")
        if ev.top1_agreement is not None:
            table.add_row("top-1 agreement", f"{ev.top1_agreement:.2%}")
        table.add_row("max abs error", f"{ev.max_abs_error:.4g}")
        table.add_row("mean abs error", f"{ev.mean_abs_error:.4g}")
        table.add_row("cosine similarity", f"{ev.cosine_similarity:.5f}")
        console.print(table)
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/] {warning}")
