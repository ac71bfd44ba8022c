"""The C preprocessor defines a board's firmware is built with (TD_BOARD_ID, TD_CLOCK_HZ, QEMU machine facts).

The firmware platform code owns the list (firmware/platform/*/ documents which defines it reads, and
tinydeploy.flash.firmware.platform_defines computes them); this module is the build's single entry point to
it, with a fallback so builds keep working while that module is absent.
"""

from __future__ import annotations

import re

from tinydeploy.boards import Board


def board_defines(board: Board) -> dict[str, str]:
    """name -> value (C tokens: strings carry their double quotes, flags map to "")."""
    try:
        from tinydeploy.flash.firmware import platform_defines  # owned by the firmware platform code
    except ImportError:
        return fallback_defines(board)
    return normalize(platform_defines(board))


def normalize(defines) -> dict[str, str]:
    """Accept a mapping, or "NAME=VALUE"/"NAME"/(name, value) items, or "-DNAME=VALUE" flags."""
    if isinstance(defines, dict):
        return {str(k): "" if v is None else str(v) for k, v in defines.items()}
    result: dict[str, str] = {}
    for item in defines:
        if isinstance(item, (tuple, list)):
            name, value = item[0], (item[1] if len(item) > 1 else "")
        else:
            text = str(item)
            text = text[2:].strip() if text.startswith("-D") else text
            name, _, value = text.partition("=")
        result[str(name)] = "" if value is None else str(value)
    return result


def fallback_defines(board: Board) -> dict[str, str]:
    defines = {"TD_BOARD_ID": f'"{board.id}"', "TD_CLOCK_HZ": f"{board.clock_hz}u"}
    if board.qemu:
        machine = re.sub(r"[^0-9A-Za-z]", "_", board.qemu.machine).upper()
        defines.update(
            {
                "TD_SYSCLK_HZ": f"{board.qemu.sysclk_hz}u",
                "TD_UART_BASE": f"0x{board.qemu.uart_base:08X}u",
                f"TD_QEMU_MACHINE_{machine}": "1",
            }
        )
    if board.is_native:
        defines["TD_NATIVE"] = "1"
    return defines
