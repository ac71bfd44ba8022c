"""`deploy run MODEL`: convert, render, build, flash and verify in one go (default: aot on qemu-m4)."""

from __future__ import annotations

import argparse
from pathlib import Path

from tinydeploy.boards import get_board
from tinydeploy.commands.argtypes import existing_path
from tinydeploy.commands.flash import add_build_arguments, build_options
from tinydeploy.commands.verify import add_verify_arguments, verify_on

DEFAULT_BOARD = "qemu-m4"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run", help="build, flash and verify a model on a board in one go",
        description="Everything from model to verified report: convert (if needed), render, build through "
                    "PlatformIO, flash (QEMU for emulated boards), verify against the host references.")
    parser.add_argument("model", type=existing_path, help=".tflite, .keras/.h5 or SavedModel directory")
    parser.add_argument("--board", default=DEFAULT_BOARD, help=f"board id (default {DEFAULT_BOARD})")
    parser.add_argument("--port", help="serial port or URL of a real board (default: auto-detect)")
    add_build_arguments(parser)
    add_verify_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tinydeploy import pipeline

    board = get_board(args.board)
    model = pipeline.prepare_model(Path(args.model), rep_data=args.rep_data)
    if model != Path(args.model) and not args.float_model:
        args.float_model = args.model  # the Keras model / SavedModel we quantized is the float reference
    fw = pipeline.build_firmware(model, board, args.runtime, **build_options(args))
    print(fw.describe())
    with pipeline.started_device(fw, port=args.port) as url:
        verify_on(url, board, model, args, firmware=fw.build.elf, arena_estimate=fw.arena_estimate)
    return 0
