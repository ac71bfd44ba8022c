"""`deploy demo`: the end-to-end tour on scikit-learn's bundled digits.

Trains a small CNN on the 8x8 digits, quantizes it to int8, deploys it to the board (default qemu-m4) with
the aot runtime, verifies the whole test split on the device and prints the report: the on-device accuracy
must equal the TFLM host interpreter's, and every output must match it bit for bit.
"""

from __future__ import annotations

import argparse

import numpy as np

from tinydeploy.boards import get_board
from tinydeploy.commands.flash import add_build_arguments, build_options
from tinydeploy.commands.verify import add_verify_arguments, verify_on
from tinydeploy.errors import CheckFailed

DEMO_MODEL = "digits_cnn"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("demo", help="train, quantize, deploy and verify a digits CNN end to end",
                                   description=__doc__.split("\n\n")[1] if __doc__ else None)
    parser.add_argument("--board", default="qemu-m4", help="board id (default qemu-m4)")
    parser.add_argument("--port", help="serial port or URL of a real board (default: auto-detect)")
    add_build_arguments(parser)
    add_verify_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tinydeploy import pipeline, zoo
    from tinydeploy.reference import run_reference
    from tinydeploy.verify.inputs import prepare_inputs
    from tinydeploy.model.graph import load_model

    board = get_board(args.board)
    print(f"[1/4] training {DEMO_MODEL} on scikit-learn's digits and quantizing it to int8 (cached)")
    model = zoo.tflite_model(DEMO_MODEL, "int8")
    _, _, x_test, y_test = zoo.digits_dataset()
    if args.float_model is None:
        args.float_model = str(zoo.keras_path(DEMO_MODEL))
    print(f"[2/4] rendering and building {args.runtime} firmware for {board.id}")
    fw = pipeline.build_firmware(model, board, args.runtime, **build_options(args))
    print(f"      {fw.describe()}")
    n = len(x_test) if args.n is None else min(args.n, len(x_test))
    host_acc = _host_accuracy(run_reference, model, prepare_inputs([x_test[:n]], load_model(model), "digits"), y_test[:n])
    print(f"[3/4] verifying {n} test digits on {board.id} (host TFLM accuracy {host_acc:.2%})")
    with pipeline.started_device(fw, port=args.port) as url:
        report = verify_on(url, board, model, args, inputs=[x_test], labels=y_test, firmware=fw.build.elf,
                           arena_estimate=fw.arena_estimate)
    device_acc = report.fidelity.get("device_accuracy")
    print(f"[4/4] on-device accuracy {device_acc:.2%} vs host TFLM {host_acc:.2%}; exact-match rate "
          f"{report.fidelity['tflm']['exact_match_rate']:.2%}")
    if device_acc is None or abs(device_acc - host_acc) > 1e-12:
        raise CheckFailed(f"on-device accuracy {device_acc} differs from the host TFLM accuracy {host_acc}")
    return 0


def _host_accuracy(run_reference, model, batches: list[np.ndarray], labels: np.ndarray) -> float:
    outputs = run_reference("tflm", model, batches)
    return float(np.mean(np.argmax(outputs[0].reshape(len(labels), -1), axis=1) == labels))
