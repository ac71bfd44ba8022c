"""`deploy doctor`: check the tools, packages and ports tinydeploy needs, and say how to fix what is not."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("doctor", help="check toolchain, QEMU, PlatformIO, Python packages, serial ports")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tinydeploy.doctor import FAIL, WARN, healthy, run_checks

    checks = run_checks()
    if args.json:
        print(json.dumps({"healthy": healthy(checks), "checks": [asdict(c) for c in checks]}, indent=2))
        return 0 if healthy(checks) else 1

    from rich.table import Table

    from tinydeploy.progress import table_console

    console = table_console()
    table = Table(title="deploy doctor", title_justify="left")
    table.add_column("check", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("detail")
    colours = {"ok": "green", WARN: "yellow", FAIL: "bold red", "info": "cyan"}
    for c in checks:
        table.add_row(c.name, f"[{colours[c.status]}]{c.status}[/]", c.detail, )
    console.print(table)
    fixes = [c for c in checks if c.fix and c.status in (FAIL, WARN)]
    if fixes:
        console.print("\nTo fix:")
        for c in fixes:
            console.print(f"  {c.name} ({c.status}): {c.fix}", markup=False, highlight=False)
    console.print("\nall is well" if healthy(checks) else "\nsome checks FAILED", markup=False)
    return 0 if healthy(checks) else 1
