"""`deploy pio -- <pio args>`: PlatformIO with the project's provisioned home and offline-safe settings.

Same as scripts/pio and `make pio ARGS=...`; e.g. `deploy pio -- run -e qemu-m4 -t upload`.
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("pio", help="run PlatformIO with the project's offline PlatformIO home")
    parser.add_argument("pio_args", nargs=argparse.REMAINDER, help="arguments for pio (after --)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tinydeploy.build.pio import main

    return main(list(args.pio_args))
