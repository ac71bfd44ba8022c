"""The `deploy` command line.

Each subcommand lives in `tinydeploy.commands.<name>` and exposes `register(subparsers)`; the function it
sets as `func` receives the parsed arguments and returns an exit status.  This module only dispatches and
turns `UserError` into a one-line message with a non-zero exit.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from tinydeploy import __version__
from tinydeploy.errors import UserError

# In pipeline order: convert -> inspect/plan -> render -> build -> flash -> verify -> run.
COMMANDS = (
    "boards",
    "doctor",
    "convert",
    "qat",
    "inspect",
    "render",
    "build",
    "flash",
    "verify",
    "run",
    "demo",
    "pio",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deploy", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--version", action="version", version=f"tinydeploy {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"tinydeploy.commands.{name}")
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
