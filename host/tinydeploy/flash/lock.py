"""One user of a board at a time: a lock per board session.

A device speaks to one host: a second `deploy verify` on a board's background session (QEMU serves one
client on its UART socket), or on the same serial port, would only see silence or half the frames, and
would blame the firmware.  So whoever talks to a device holds its lock for as long as it does:

    with board_lock(board, url):            # BoardBusy("board busy: qemu-m4 is used by pid 123 (...)")
        with DeviceLink.open(url) as link:
            ...

The lock is an fcntl.flock on a file in the project cache (locks/), one per device: the session or port
URL, with serial device paths resolved (two names of one tty are one device).  The kernel drops a flock
when its holder exits or crashes, so a lock is never stale; the file's text only says who holds it, and
a clean release removes the file.
A process may take the same lock again while it holds it (nested with-blocks share it).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

from tinydeploy.boards import Board
from tinydeploy.errors import UserError
from tinydeploy.paths import cache_dir

_COMMAND: list[str] = []
_HELD: dict[str, int] = {}  # key -> nesting depth, in this process
_MAX_COMMAND_CHARS = 120


class BoardBusy(UserError):
    """Another process is using the board (its lock is held)."""


def describe_command(argv: list[str]) -> None:
    """What this process is, for the busy message another process shows (set by the CLI)."""
    _COMMAND[:] = argv


def device_key(url: str) -> str:
    """One name per device: a serial path with its symlinks resolved, else the URL itself."""
    if "://" not in url:  # a device path (/dev/serial/by-id/... links to /dev/ttyACM0)
        url = os.path.realpath(url)
    return url


def board_key(board: Board, port: str | None) -> str:
    """What names a real board while it is flashed and verified: the port when one is given, else the board
    itself (its port is found by USB VID:PID, and may change when it re-enumerates after an upload)."""
    return port if port else f"{BOARD_PREFIX}{board.id}"


BOARD_PREFIX = "board:"


def lock_path(url: str) -> Path:
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", device_key(url)).strip("_") or "device"
    return cache_dir() / "locks" / f"{name}.lock"


@contextmanager
def board_lock(board: Board | str, url: str) -> Iterator[None]:
    """Hold the device at `url` (board `board`) for the block; BoardBusy at once when another process
    holds it."""
    board_id = board if isinstance(board, str) else board.id
    key = device_key(url)
    if key in _HELD:
        _HELD[key] += 1
        try:
            yield
        finally:
            _HELD[key] -= 1
        return
    path = lock_path(url)
    handle = _acquire(path, board_id, url)
    _HELD[key] = 1
    try:
        yield
    finally:
        del _HELD[key]
        # Unlinked while still locked: a process that opened this file meanwhile finds it gone once it
        # gets the lock, and starts over on a new one (see _acquire), so the cache keeps no lock files.
        path.unlink(missing_ok=True)
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def holder(url: str) -> dict | None:
    """Who holds the device's lock ({"pid", "command", "board"}), or None when it is free."""
    try:
        handle = open(lock_path(url))
    except FileNotFoundError:
        return None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _note(handle) or {"pid": None, "command": "", "board": ""}
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None


def check_free(board: Board | str, url: str) -> None:
    """BoardBusy when another process holds the device (for commands that would disturb it)."""
    held = holder(url)
    if held is not None and device_key(url) not in _HELD:
        raise _busy(board if isinstance(board, str) else board.id, url, held)


def _acquire(path: Path, board_id: str, url: str) -> IO[str]:
    """The open, locked lock file with our note in it; BoardBusy when another process holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        handle = open(path, "a+")  # "a+": opening must not wipe the holder's note before we own it
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            note = _note(handle) or {}
            handle.close()
            raise _busy(board_id, url, note) from None
        if _same_file(handle, path):
            break
        handle.close()  # its holder released (and removed) it between our open and our lock: again
    handle.truncate(0)
    note = {"pid": os.getpid(), "board": board_id, "url": url,
            "command": " ".join(_COMMAND or ["python", "(tinydeploy API)"])[:_MAX_COMMAND_CHARS]}
    handle.write(json.dumps(note) + "\n")
    handle.flush()
    return handle


def _same_file(handle: IO[str], path: Path) -> bool:
    try:
        return os.fstat(handle.fileno()).st_ino == path.stat().st_ino
    except FileNotFoundError:
        return False


def _note(handle: IO[str]) -> dict | None:
    try:
        handle.seek(0)
        return json.loads(handle.read() or "null")
    except (OSError, ValueError):
        return None


def _busy(board_id: str, url: str, note: dict) -> BoardBusy:
    pid, command = note.get("pid"), note.get("command")
    who = f"pid {pid}" if pid else "another process"
    what = f" ({command})" if command else ""
    where = "" if url.startswith(BOARD_PREFIX) else f" on {url}"
    return BoardBusy(f"board busy: {board_id} is used by {who}{what}{where}",
                     hint="wait for it to finish" + (f", or stop it (kill {pid})" if pid else ""))
