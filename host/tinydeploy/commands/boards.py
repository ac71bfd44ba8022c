"""`deploy boards`: list the board registry (boards/*.toml) as a table or as JSON."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from tinydeploy.boards import Board, all_boards, get_board
from tinydeploy.build.provision import pio_platform


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("boards", help="list the supported boards (boards/*.toml)")
    parser.add_argument("board", nargs="?", help="show one board (id or alias) instead of all")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=run)


def board_to_dict(board: Board) -> dict:
    """A JSON-ready view of a board: the board file's fields plus where it came from."""
    data = asdict(board)
    data["source"] = str(board.source) if board.source else None
    data["latency_unit"] = board.latency_unit
    return data


def run(args: argparse.Namespace) -> int:
    boards = [get_board(args.board)] if args.board else list(all_boards())
    if args.json:
        print(json.dumps([board_to_dict(b) for b in boards], indent=2))
        return 0
    _print_table(boards)
    return 0


def _features(board: Board) -> str:
    names = [name for name, on in (("fpu", board.features.fpu), ("dsp", board.features.dsp),
                                   ("mve", board.features.mve)) if on]
    return ",".join(names) or "-"


def _print_table(boards: list[Board]) -> None:
    from rich.table import Table

    from tinydeploy.progress import table_console

    table = Table(title="tinydeploy boards", title_justify="left")
    for column in ("id", "kind", "cpu", "features", "clock", "flash", "RAM", "PlatformIO", "runs on"):
        table.add_column(column, no_wrap=column in ("id", "cpu"))
    for b in boards:
        pio = f"{pio_platform(b)}/{b.platformio.board}"
        if b.platformio.framework:
            pio += f" ({b.platformio.framework})"
        runs_on = f"qemu -M {b.qemu.machine}" if b.qemu else ("host" if b.is_native else b.platformio.upload_protocol)
        clock = f"{b.clock_hz / 1e6:g} MHz" if b.clock_hz else "-"
        table.add_row(b.id, b.kind, b.cpu, _features(b), clock, _size(b.flash_bytes), _size(b.ram_bytes), pio, runs_on)
    console = table_console()
    console.print(table)


def _size(n: int) -> str:
    if n == 0:
        return "-"
    if n >= 1 << 20 and n % (1 << 20) == 0:
        return f"{n >> 20} MB"
    return f"{n / 1024:g} KB"
