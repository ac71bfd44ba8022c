"""`deploy flash`: convert (if needed), render, build through PlatformIO, upload.

    deploy flash MODEL --board nano33 [--runtime aot|tflm]     PlatformIO's uploader for a real board
    deploy flash MODEL --board qemu-m4                         starts QEMU in the background, serving the link
    deploy flash --board qemu-m4 --stop                        stops it
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tinydeploy.boards import get_board
from tinydeploy.commands.argtypes import array_file, existing_path, positive_int, positive_seconds
from tinydeploy.errors import UserError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("flash", help="build the model's firmware and put it on the board",
                                   description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("model", nargs="?", type=existing_path, help=".tflite, .keras/.h5 or SavedModel directory")
    parser.add_argument("--board", required=True, help="board id (see: deploy boards)")
    parser.add_argument("--stop", action="store_true",
                        help="stop the background session of an emulated/native board")
    add_build_arguments(parser)
    parser.set_defaults(func=run)


def add_build_arguments(parser: argparse.ArgumentParser) -> None:
    """What the firmware is made from: shared by flash, run and demo."""
    parser.add_argument("--runtime", default="aot", choices=("aot", "tflm"), help="inference runtime (default aot)")
    parser.add_argument("--rep-data", type=array_file, help="representative data (.npy/.npz) to quantize a Keras/SavedModel model")
    parser.add_argument("--tflm-path", help="local TFLite Micro tree for --runtime tflm (default: $TFLM_PATH)")
    parser.add_argument("--arena-bytes", type=positive_int, help="tflm: tensor arena size (default: measured + margin)")
    parser.add_argument("--reference-kernels", action="store_true",
                        help="aot: use the reference kernels instead of the optimized ones")
    add_memory_priority_argument(parser)
    parser.add_argument("--build-timeout", type=positive_seconds, default=None, metavar="SECONDS",
                        help="stop the PlatformIO build after this long (default 1800: a clean TFLM build takes "
                             "~12 min on 2 cores, and is cached for later models)")


def add_memory_priority_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--memory-priority", choices=("speed", "ram"), default="speed",
                        help="aot arena: speed (default) takes only the savings that cost no instruction (a "
                             "convolution's output written over its own input); ram also spends instructions "
                             "for bytes where that lowers the peak: residual skips recomputed, 1x1 expansions "
                             "run in row bands with their depthwise (docs/memory.md)")


def build_options(args: argparse.Namespace) -> dict:
    return {"tflm_path": args.tflm_path, "arena_bytes": args.arena_bytes,
            "optimized": not args.reference_kernels, "layers": bool(getattr(args, "layers", None)),
            "memory_priority": getattr(args, "memory_priority", "speed"),
            "build_timeout": getattr(args, "build_timeout", None)}


def run(args: argparse.Namespace) -> int:
    from tinydeploy import pipeline

    board = get_board(args.board)
    if args.stop:
        if not (board.is_emulated or board.is_native):
            raise UserError(f"--stop is for emulated and native boards; {board.id} is real hardware")
        stopped = pipeline.stop_session(board)
        print(f"{board.id}: {'stopped' if stopped else 'nothing was running'}")
        return 0
    if not args.model:
        raise UserError("deploy flash needs a MODEL", hint=f"deploy flash model.tflite --board {board.id}")
    model = pipeline.prepare_model(Path(args.model), rep_data=args.rep_data)
    fw = pipeline.build_firmware(model, board, args.runtime, **build_options(args))
    print(fw.describe())
    if board.is_emulated or board.is_native:
        session = pipeline.start_detached(fw)
        print(f"{board.id} is running {model.name} ({args.runtime}), serving its link on {session['url']}")
        print(f"  verify it:  deploy verify --board {board.id}")
        print(f"  stop it:    deploy flash --board {board.id} --stop")
        return 0
    pipeline.upload(fw)
    print(f"flashed {board.id}; verify it with: deploy verify --board {board.id} --model {model}")
    return 0
