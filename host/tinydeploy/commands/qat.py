"""`deploy qat`: quantization-aware fine-tuning, then a full-integer .tflite (also `deploy convert --mode qat`)."""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import Counter
from pathlib import Path

HELP = "quantization-aware training (tfmot) of a Keras model, then an int8 .tflite"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("qat", help=HELP, description=HELP)
    parser.add_argument("model", type=Path, help=".keras or .h5 model (float, trained or not)")
    parser.add_argument("--train-data", required=True, metavar="X.npz", help="training data: arrays x and y")
    parser.add_argument("--epochs", type=int, default=2, help="fine-tuning epochs (default 2)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("-o", "--output", type=Path, required=True, help="where to write the .tflite")
    parser.add_argument("--io-dtype", choices=("int8", "uint8", "float32"), default=None)
    parser.add_argument("--eval-data", metavar="X", help="inputs to compare float vs QAT model on")
    parser.add_argument("--eval-labels", metavar="Y",
                        help="labels for --eval-data: class indices/one-hot or regression targets")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds before QAT is abandoned")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(func=run_qat)


def run_qat(args: argparse.Namespace) -> int:
    from tinydeploy.convert.pipeline import ConvertResult, evaluate, load_eval_set
    from tinydeploy.files import write_atomic
    from tinydeploy.convert.qat import QatRequest, run_qat_subprocess
    from tinydeploy.errors import UserError
    from tinydeploy.inspect import inspect_model
    from tinydeploy.model.graph import load_model

    if not getattr(args, "train_data", None):
        raise UserError("QAT needs training data", hint="pass --train-data X.npz (arrays x and y)")
    if args.output is None:
        raise UserError("missing -o/--output: where should the .tflite go?", hint="add -o model.tflite")
    if args.epochs <= 0:
        raise UserError(f"--epochs must be positive, got {args.epochs}")
    if getattr(args, "eval_labels", None) and not getattr(args, "eval_data", None):
        load_eval_set(None, args.eval_labels, [])  # raises: labels without the inputs they label
    model_path = Path(args.model)
    if str(model_path).startswith("zoo:"):
        from tinydeploy import zoo

        model_path = zoo.keras_path(str(model_path)[4:])
    if not model_path.exists():
        raise UserError(f"{model_path}: no such file")
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=output.parent, prefix=".qat-") as tmp:
        staged = Path(tmp) / "model.tflite"
        request = QatRequest(model=str(model_path.resolve()), train_data=str(Path(args.train_data).resolve()),
                             output=str(staged), epochs=args.epochs,
                             batch_size=getattr(args, "batch_size", 32),
                             learning_rate=getattr(args, "learning_rate", 1e-3),
                             io_dtype=args.io_dtype or "int8")
        from tinydeploy.progress import spinner

        with spinner(f"QAT: fine-tuning {model_path.name} for {args.epochs} epoch(s)", enabled=not args.json):
            worker_result = run_qat_subprocess(request, timeout_s=getattr(args, "timeout", 1800.0))
        model = load_model(staged)
        write_atomic(output, model.raw)
    model = load_model(output)
    result = ConvertResult(model_path, "keras", "qat", request.io_dtype, output, model_path.stat().st_size, None,
                           len(model.raw), dict(Counter(op.opcode for op in model.operators)),
                           warnings=inspect_model(model).warnings)
    if getattr(args, "eval_data", None):
        from tinydeploy.convert.pipeline import open_source

        source = open_source(model_path)
        eval_set = load_eval_set(args.eval_data, args.eval_labels, source.inputs)
        result.evaluation = evaluate(source.keras_model, output, *eval_set, progress=not args.json)
    if args.json:
        print(json.dumps({**result.to_json(), "training": worker_result}, indent=2))
    else:
        from tinydeploy.commands.convert import print_report

        history = worker_result.get("history", {})
        summary = ", ".join(f"{k} {v[-1]:.4g}" for k, v in history.items() if v)
        print(f"QAT: {worker_result.get('train_samples')} training samples, last epoch: {summary}")
        print_report(result)
    return 0
