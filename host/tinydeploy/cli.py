"""The `deploy` command line.

Each subcommand lives in `tinydeploy.commands.<name>` and exposes `register(subparsers)`; the function it
sets as `func` receives the parsed arguments and returns an exit status.  This module only dispatches and
turns every way a command can end badly into one line on stderr and an exit status:

    a bad option (argparse, checked before anything runs)   2
    UserError (and its kinds: LinkError 3, CheckFailed 1)    its exit_code
    Ctrl-C                                                  130
    SIGTERM / SIGHUP                                        143 / 129 (128 + the signal)

SIGTERM and SIGHUP unwind like a Ctrl-C (tinydeploy.procs.Terminated): children are stopped and an
interrupted verification still writes its partial report.  Every child process group still running is
ended on the way out.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from tinydeploy import __version__, procs
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


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad option in one line (no usage block), exit status 2; the subcommand
    parsers inherit it."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see: {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="deploy", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--version", action="version", version=f"tinydeploy {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"tinydeploy.commands.{name}")
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # --help, --version, or a bad option (already reported in one line)
        return done.code if isinstance(done.code, int) else 2
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from tinydeploy.flash.lock import describe_command

    describe_command(["deploy", *argv])  # what `board busy` messages say this process is
    with procs.signals_as_interrupts():
        try:
            return int(args.func(args) or 0)
        except UserError as err:
            print(f"error: {err}", file=sys.stderr)
            return err.exit_code
        except procs.Terminated as err:
            print(f"{err} (partial results were kept)" if _kept_partial(err) else str(err), file=sys.stderr)
            return err.exit_status
        except KeyboardInterrupt as err:
            print("interrupted (Ctrl-C)" + (" (partial results were kept)" if _kept_partial(err) else ""),
                  file=sys.stderr)
            return procs.INTERRUPT_STATUS
        finally:
            procs.stop_all()


def _kept_partial(err: BaseException) -> bool:
    return getattr(err, "partial_report", None) is not None


if __name__ == "__main__":
    sys.exit(main())
