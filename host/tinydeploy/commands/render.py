"""`deploy render MODEL --runtime aot|tflm --board B -o DIR`: write a PlatformIO project for the model."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tinydeploy.boards import get_board
from tinydeploy.commands.flash import add_memory_priority_argument
from tinydeploy.config import tflm_options
from tinydeploy.errors import UserError

RUNTIMES = ("aot", "tflm")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "render", help="generate a PlatformIO project running the model (aot: generated C; tflm: TFLite Micro)")
    parser.add_argument("model", type=Path, help=".tflite model")
    parser.add_argument("--runtime", "-r", choices=RUNTIMES, default="aot",
                        help="aot: plain C generated for this model (default); tflm: the TFLite Micro interpreter")
    parser.add_argument("--board", "-b", required=True, help="board id or alias (see: deploy boards)")
    parser.add_argument("--out", "-o", type=Path, required=True, help="project directory to write")
    parser.add_argument("--reference", action="store_true",
                        help="aot: use the reference kernels only (the exactness oracle), not the optimized ones")
    parser.add_argument("--arena-bytes", type=int, help="tflm: arena size instead of the measured estimate")
    parser.add_argument("--tflm-path", type=Path, help="tflm: a local TFLite Micro source tree")
    parser.add_argument("--arena-margin", type=float, help="tflm: margin over the measured arena (default 0.2)")
    parser.add_argument("--tflm-git", help="tflm: git URL of the TFLite Micro Arduino library for lib_deps")
    parser.add_argument("--tflm-ref", help="tflm: commit of that library to pin")
    parser.add_argument("--templates", type=Path, help="tflm: directory of templates overriding templates/tflm/ "
                                                       "(default: [tflm] templates in ./tinydeploy.toml)")
    parser.add_argument("--plan", action="store_true", help="aot: print the full memory plan")
    add_memory_priority_argument(parser)
    parser.add_argument("--json", action="store_true", help="machine-readable result")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    board = get_board(args.board)
    if not args.model.exists():
        raise UserError(f"{args.model}: no such file")
    if args.runtime == "aot":
        return _render_aot(args, board)
    return _render_tflm(args, board)


def _render_aot(args: argparse.Namespace, board) -> int:  # type: ignore[no-untyped-def]
    from tinydeploy.render.aot import render_aot

    if args.arena_bytes is not None or args.tflm_path is not None:
        raise UserError("--arena-bytes and --tflm-path apply to --runtime tflm only",
                        hint="the aot runtime sizes its arena exactly from the memory plan")
    result = render_aot(args.model, board, args.out, optimized=not args.reference,
                        memory_priority=args.memory_priority)
    if args.json:
        print(json.dumps({
            "runtime": "aot", "board": board.id, "project": str(result.project_dir),
            "arena_bytes": result.arena_bytes, "weights_bytes": result.weights_bytes,
            "ops_run": result.op_count, "ops_folded": result.folded_ops, "kernels": result.kernels,
            "model_sha256": result.model_sha256,
        }, indent=2))
        return 0
    text = result.report_text
    if not args.plan:
        text = text.split("\nmemory plan:")[0] + "\n"
    print(text, end="")
    print(f"wrote {result.project_dir} (build: deploy build --board {board.id} --project {result.project_dir})")
    return 0


def _render_tflm(args: argparse.Namespace, board) -> int:  # type: ignore[no-untyped-def]
    from tinydeploy.render.tflm import render_tflm

    if args.reference:
        raise UserError("--reference applies to --runtime aot only")
    opts = tflm_options({"arena_bytes": args.arena_bytes, "tflm_path": args.tflm_path,
                         "arena_margin": args.arena_margin, "tflm_git": args.tflm_git, "tflm_ref": args.tflm_ref,
                         "templates_dir": args.templates})
    result = render_tflm(args.model, board, args.out, **opts)
    if args.json:
        print(json.dumps({
            "runtime": "tflm", "board": board.id, "project": str(result.project_dir),
            "arena_bytes": result.arena_bytes, "ops": [op.opcode for op in result.ops],
            "model_sha256": result.model_sha256,
        }, indent=2))
        return 0
    print(f"tflm render of {args.model.name} for {board.id}: {result.op_count} op kinds, arena {result.arena_bytes} bytes")
    for problem in getattr(result, "problems", []):
        print(f"  warning: {problem}")
    print(f"wrote {result.project_dir} (build: deploy build --board {board.id} --project {result.project_dir})")
    return 0
