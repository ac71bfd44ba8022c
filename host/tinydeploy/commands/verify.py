"""`deploy verify`: run inputs on a flashed board and compare with the host references.

    deploy verify --board B [--port URL] [--model M.tflite] [--inputs X.npy|X.npz] [--labels Y.npy] [-n N]
                  [--report out.json] [--junit f.xml] [--html f.html]

Without --port, an emulated/native board's background session (started by `deploy flash`) is used, and a
real board is found by its USB VID:PID.  Without --model, the model that session was flashed with.  Without
--inputs, random inputs covering the input tensor's range.  The options shared with `deploy run` and
`deploy demo` are defined here once.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import nullcontext
from pathlib import Path

from tinydeploy.boards import Board, get_board
from tinydeploy.commands.argtypes import (array_file, cosine, existing_file, existing_path, fraction, non_negative,
                                          output_file, positive_int, positive_seconds)
from tinydeploy.errors import UserError
from tinydeploy.flash.lock import board_key, board_lock
from tinydeploy.link import DeviceLink, find_port
from tinydeploy.verify import Thresholds, VerifyReport, print_summary, verify_model, write_reports
from tinydeploy.verify.metrics import DEFAULT_FLOAT_RTOL

DEFAULT_RANDOM_INPUTS = 20


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "verify", help="check the model on a board against the host references and measure its latency",
        description="Stream inputs to the board, compare its outputs with TFLM (exact), LiteRT and the float "
                    "model (drift), and report latency, memory and link figures.")
    parser.add_argument("--board", required=True, help="board id (see: deploy boards)")
    parser.add_argument("--port", help="serial port or URL: /dev/ttyACM0, socket://127.0.0.1:5555, rfc2217://host:port; "
                                       "default: the board's `deploy flash` session, or auto-detect by USB VID:PID")
    from tinydeploy.rig.labgrid_place import add_labgrid_arguments

    add_labgrid_arguments(parser)  # --labgrid-place NAME: a board in a labgrid farm, reached over RFC2217
    parser.add_argument("--model", type=existing_file, help="the .tflite the firmware was built from (default: the flashed one)")
    parser.add_argument("--firmware", type=existing_file, help="firmware ELF, for the flash/RAM figures")
    add_verify_arguments(parser)
    parser.set_defaults(func=run)


def add_verify_arguments(parser: argparse.ArgumentParser) -> None:
    """Inputs, references, reports and thresholds: shared by verify, run and demo."""
    parser.add_argument("--inputs", type=array_file, help=".npy or .npz inputs, batched (N, ...); float data is quantized "
                                         f"(default: {DEFAULT_RANDOM_INPUTS} random inputs)")
    parser.add_argument("--labels", type=existing_file,
                        help="ground truth, one per input (.npy for the first output, .npz by output name): class "
                             "indices or one-hot -> accuracy and confusion matrix; float targets -> rmse/mae/l2r")
    parser.add_argument("-n", type=positive_int, default=None, help="verify only the first N inputs")
    parser.add_argument("--float-model", type=existing_path, help="float model (.keras, float .tflite) for float drift")
    parser.add_argument("--report", type=output_file, help="write the JSON report here")
    parser.add_argument("--junit", type=output_file, help="write a JUnit XML report here")
    parser.add_argument("--html", type=output_file, help="write an HTML report with plots here")
    parser.add_argument("--save-outputs", type=output_file, metavar="FILE.npz",
                        help="keep every input's device and reference outputs (and labels) in one .npz, also "
                             "for an interrupted run")
    parser.add_argument("--timeout", type=positive_seconds, default=2.0, help="seconds to wait for each reply (default 2)")
    parser.add_argument("--invoke-timeout", type=positive_seconds, default=60.0,
                        help="seconds to wait for one inference to finish (default 60)")
    parser.add_argument("--no-litert", action="store_true", help="skip the LiteRT drift reference")
    parser.add_argument("--layers", nargs="?", const="latency", choices=("latency", "outputs"),
                        help="per-layer latency table (firmware built with --layers; `deploy run --layers` does "
                             "it); --layers=outputs also diffs every layer's output against TFLM and names the "
                             "first that diverges")
    group = parser.add_argument_group("thresholds (a failed one exits with status 1)")
    group.add_argument("--min-exact-match", type=fraction, default=1.0,
                       help="share of inputs that must match TFLM: integer outputs bit for bit, float outputs "
                            "within --float-rtol (default 1.0)")
    group.add_argument("--max-lsb", type=non_negative, default=None,
                       help="largest allowed |device - tflm| in LSB (integer outputs)")
    group.add_argument("--min-cosine", type=cosine, default=None, help="least cosine similarity to the drift reference")
    group.add_argument("--max-abs-error", type=non_negative, default=None, help="largest abs error vs the drift reference")
    group.add_argument("--min-top1-agreement", type=fraction, default=None, help="least top-1 agreement with it")
    group.add_argument("--min-accuracy", type=fraction, default=None, help="least device accuracy against class --labels")
    group.add_argument("--max-rmse", type=non_negative, default=None,
                       help="largest device rmse against regression --labels (real units)")
    group.add_argument("--float-rtol", type=non_negative, default=DEFAULT_FLOAT_RTOL,
                       help="float outputs match TFLM when |device - tflm| <= RTOL * max|tflm| of the sample's "
                            f"output (relative; integer outputs must be bit exact; default {DEFAULT_FLOAT_RTOL:g})")


def thresholds_from(args: argparse.Namespace) -> Thresholds:
    return Thresholds(min_exact_match_rate=args.min_exact_match, max_lsb_diff=args.max_lsb,
                      min_cosine=args.min_cosine, max_abs_error=args.max_abs_error,
                      min_top1_agreement=args.min_top1_agreement, min_accuracy=args.min_accuracy,
                      max_rmse=args.max_rmse, float_rtol=args.float_rtol)


def verify_on(url: str, board: Board, model: Path, args: argparse.Namespace, *, inputs=None, labels=None,
              firmware: Path | None = None, arena_estimate: int | None = None) -> VerifyReport:
    """Open the link, verify, print the summary and write the reports (also the partial ones when the run
    is interrupted); raises CheckFailed when a threshold fails."""
    from tinydeploy.verify.inputs import random_inputs

    if labels is None:
        labels = args.labels
    if inputs is None:
        if labels is not None and not args.inputs:
            raise UserError(f"--labels {labels}: labels need the inputs they belong to",
                            hint="pass --inputs X.npy (one input per label, in the same order)")
        inputs = args.inputs if args.inputs else random_inputs(model, DEFAULT_RANDOM_INPUTS)
    outputs = {"json_path": args.report, "junit_path": args.junit, "html_path": args.html,
               "outputs_path": args.save_outputs}
    with board_lock(board, url), DeviceLink.open(url, timeout=args.timeout, invoke_timeout=args.invoke_timeout,
                                                 baud=board.serial.baud) as link:
        try:
            report = verify_model(link, model, inputs, labels, board=board, n=args.n,
                                  thresholds=thresholds_from(args), float_model=args.float_model,
                                  firmware=firmware, litert=not args.no_litert, arena_estimate=arena_estimate,
                                  layers=getattr(args, "layers", None))
        except BaseException as err:  # Ctrl-C or a dead link: keep what was measured
            partial = getattr(err, "partial_report", None)
            if partial is not None:
                print_summary(partial)
                for path in write_reports(partial, **outputs):
                    print(f"partial report written to {path}", file=sys.stderr)
            raise
    print_summary(report)
    if report.extras.get("layers"):
        from tinydeploy.verify.layers import print_layers

        print_layers(report.extras["layers"])
    for path in write_reports(report, **outputs):
        print(f"report written to {path}", file=sys.stderr)
    report.check()
    return report


def run(args: argparse.Namespace) -> int:
    if getattr(args, "labgrid_place", None):
        from tinydeploy.rig.labgrid_place import run_on_labgrid_place

        return run_on_labgrid_place(args, verify_on)
    from tinydeploy.pipeline import session_status

    board = get_board(args.board)
    local = (board.is_emulated or board.is_native) and not args.port
    session, gone = session_status(board) if local else (None, None)
    if session is None and local:
        raise UserError(f"no firmware is running for {board.id}" + (f": {gone}" if gone else ""),
                        hint=f"start it with: deploy flash MODEL --board {board.id}  (or give --port URL)")
    model = args.model or (session or {}).get("model_path")
    if not model:
        raise UserError("which model does the firmware run?", hint="pass --model M.tflite")
    firmware = args.firmware or (session or {}).get("elf")
    # A real board is held as a board too, not only by its port: a `deploy flash` of it is refused meanwhile.
    held = nullcontext() if board.is_emulated or board.is_native else board_lock(board, board_key(board, args.port))
    with held:
        port = session["url"] if session else find_port(board, args.port)
        verify_on(port, board, Path(model), args, firmware=Path(firmware) if firmware else None,
                  arena_estimate=(session or {}).get("arena_estimate"))
    return 0
