"""Find the port of a board: the --port the user gave, or a USB device with one of the board's VID:PIDs."""

from __future__ import annotations

from tinydeploy.boards import Board
from tinydeploy.errors import LinkError


def _usb_ports() -> list[tuple[str, str, str]]:
    """(device, "vvvv:pppp", description) of every USB serial port the OS lists."""
    from serial.tools import list_ports

    ports = []
    for port in list_ports.comports():
        if port.vid is not None and port.pid is not None:
            ports.append((port.device, f"{port.vid:04x}:{port.pid:04x}", port.description or ""))
    return ports


def find_port(board: Board, port: str | None = None) -> str:
    """The URL to open for `board`: `port` if given, else the one USB port matching its usb_ids."""
    if port:
        return port
    if board.kind != "real":
        raise LinkError(f"board {board.id} is {board.kind}: give --port with the URL `deploy flash` printed",
                        hint="e.g. --port socket://127.0.0.1:5555 for QEMU, or the pty path for native")
    if not board.serial.usb_ids:
        raise LinkError(f"board {board.id} has no serial.usb_ids in {board.source}: give --port",
                        hint="e.g. --port /dev/ttyACM0")
    ports = _usb_ports()
    matches = [p for p in ports if p[1] in board.serial.usb_ids]
    if len(matches) == 1:
        return matches[0][0]
    seen = ", ".join(f"{dev} ({vidpid} {desc})" for dev, vidpid, desc in ports) or "none"
    if not matches:
        raise LinkError(f"no {board.id} found on USB (looking for {', '.join(board.serial.usb_ids)}; "
                        f"USB serial ports: {seen})", hint="plug the board in, or give --port")
    raise LinkError(f"several {board.id} boards on USB: {', '.join(m[0] for m in matches)}",
                    hint="pick one with --port")
