"""`deploy build`: build a PlatformIO project for a board and report its size."""

from __future__ import annotations

import argparse
import configparser
import json
from pathlib import Path

from tinydeploy.boards import Board, get_board
from tinydeploy.commands.argtypes import positive_seconds
from tinydeploy.errors import UserError
from tinydeploy.paths import cache_dir, firmware_dir, repo_root

APP_DIR = "app"  # firmware/app/: the stand-alone firmware the top-level platformio.ini builds


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("build", help="build a rendered project (or the top-level firmware) for a board")
    parser.add_argument("--board", "-b", required=True, help="board id or alias (see: deploy boards)")
    parser.add_argument(
        "--project", "-p", type=Path,
        help="PlatformIO project directory (default: the repository's firmware for that board)",
    )
    parser.add_argument("--build-timeout", "--timeout", dest="timeout", type=positive_seconds, default=None,
                        metavar="SECONDS",
                        help="seconds before the build is stopped (default 1800: a clean TFLM build takes ~12 min "
                             "on 2 cores)")
    parser.add_argument("--json", action="store_true", help="machine-readable result")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tinydeploy.build.pio import DEFAULT_BUILD_TIMEOUT_S, build_project, ensure_platform

    board = get_board(args.board)
    ensure_platform(board)  # fails fast, naming the platform, before anything is written
    project = args.project or default_project(board)
    result = build_project(project, board, timeout=args.timeout or DEFAULT_BUILD_TIMEOUT_S)
    if args.json:
        print(json.dumps({
            "board": board.id, "project": str(result.project_dir), "elf": str(result.elf),
            "image": str(result.bin) if result.bin else None,
            "flash_bytes": result.flash_bytes, "ram_bytes": result.ram_bytes,
            "flash_total": board.flash_bytes, "ram_total": board.ram_bytes,
        }, indent=2))
        return 0
    print(f"built {result.elf}")
    print(f"  flash {result.flash_bytes:>8} bytes ({100 * result.flash_bytes / board.flash_bytes:.1f}% of {board.flash_bytes})")
    print(f"  RAM   {result.ram_bytes:>8} bytes ({100 * result.ram_bytes / board.ram_bytes:.1f}% of {board.ram_bytes})")
    return 0


def top_level_envs() -> set[str]:
    ini = repo_root() / "platformio.ini"
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ini, encoding="utf-8")
    return {s[len("env:"):] for s in parser.sections() if s.startswith("env:")}


def default_project(board: Board) -> Path:
    """The top-level platformio.ini when it has an env for the board, else the app rendered for the board."""
    if board.id in top_level_envs():
        return repo_root()
    from tinydeploy.render.project import GeneratedFile, ProjectSpec, write_project

    app = firmware_dir() / APP_DIR
    files = [GeneratedFile(path=f"app/{p.relative_to(app).as_posix()}", source=p)
             for p in sorted(app.rglob("*")) if p.is_file() and p.suffix in (".c", ".h", ".cpp")]
    if not files:
        raise UserError(f"no firmware to build for board {board.id}: {app} is empty",
                        hint="pass --project with a rendered project (deploy render)")
    spec = ProjectSpec(board=board, runtime="app", files=files, include_dirs=["app"], harness=False)
    return write_project(spec, cache_dir() / "projects" / f"app-{board.id}")
