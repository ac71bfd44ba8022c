"""The board registry: one declarative TOML file per board in boards/, loaded into `Board` objects.

Board facts live in the files, never in code: code asks a Board what it is (its CPU features, its
PlatformIO platform, its QEMU machine) and acts on the answer.

A board file (boards/<id>.toml) mirrors the dataclasses below:

    id = "qemu-m4"
    name = "Arm MPS2 AN386 (Cortex-M4F), emulated by QEMU"
    kind = "emulated"                 # real | emulated | native
    aliases = ["mps2-an386"]
    cpu = "cortex-m4"
    arch = "armv7e-m"
    firmware_platform = "qemu_mps2"   # firmware/platform/<this>/ holds its startup, UART and timer code
    clock_hz = 25_000_000
    flash_bytes = 0x400000
    ram_bytes = 0x400000

    [features]                        # what generated code may use
    fpu = true
    dsp = true
    mve = false

    [platformio]
    platform = "tinydeploy"           # upstream id for real boards: "nordicnrf52", "ststm32", ...
    board = "qemu-m4"
    framework = ""                    # "arduino" where the sketch uses it
    upload_protocol = "qemu"
    build_flags = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]

    [serial]
    baud = 115200
    usb_ids = []                      # ["2341:805a"]: USB VID:PID for auto-detection

    [qemu]                            # emulated boards only
    machine = "mps2-an386"
    flash_origin = 0x00000000
    flash_bytes = 0x400000
    ram_origin = 0x20000000
    ram_bytes = 0x400000
    uart_base = 0x40004000
    sysclk_hz = 25_000_000
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from tinydeploy.errors import UserError
from tinydeploy.paths import boards_dir


@dataclass(frozen=True)
class CpuFeatures:
    fpu: bool = False  # single-precision hardware float (FPv4-SP, FPv5, ...)
    dsp: bool = False  # DSP extension (SMLAD, SXTB16, ...)
    mve: bool = False  # Helium


@dataclass(frozen=True)
class PlatformIOConfig:
    platform: str  # "nordicnrf52", "ststm32", "raspberrypi", "tinydeploy-qemu", "native"
    board: str  # PlatformIO board id ("nano33ble", "nucleo_f446re", ...)
    framework: str = ""  # "arduino", "" for bare metal
    upload_protocol: str = ""
    build_flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class SerialConfig:
    baud: int = 115200
    usb_ids: tuple[str, ...] = ()  # "VID:PID" in hex, for auto-detection


@dataclass(frozen=True)
class QemuConfig:
    machine: str  # "mps2-an386"
    cpu: str = ""  # -cpu option when the machine's default is not wanted
    flash_origin: int = 0
    flash_bytes: int = 0
    ram_origin: int = 0
    ram_bytes: int = 0
    uart_base: int = 0
    sysclk_hz: int = 25_000_000


@dataclass(frozen=True)
class Board:
    id: str
    name: str
    kind: str  # "real", "emulated" or "native"
    cpu: str  # "cortex-m4", "cortex-m0plus", "host"
    arch: str  # "armv7e-m", "armv8.1-m.main", "host"
    features: CpuFeatures
    clock_hz: int
    flash_bytes: int
    ram_bytes: int
    platformio: PlatformIOConfig
    serial: SerialConfig
    firmware_platform: str = ""  # directory under firmware/platform/
    aliases: tuple[str, ...] = ()
    qemu: QemuConfig | None = None
    source: Path | None = field(default=None, compare=False)

    @property
    def is_emulated(self) -> bool:
        return self.kind == "emulated"

    @property
    def is_native(self) -> bool:
        return self.kind == "native"

    @property
    def latency_unit(self) -> str:
        """What the device's latency counter counts on this board (see td_platform.h)."""
        if self.is_emulated:
            return "instructions"
        if self.is_native:
            return "ns"
        return "cycles"


def load_board_file(path: Path) -> Board:
    """Parse one board file; a malformed file is a UserError naming it and the field."""
    raise NotImplementedError  # implemented by the foundation work (issue 2)


@lru_cache(maxsize=1)
def all_boards() -> tuple[Board, ...]:
    """Every board in boards/, sorted by id."""
    return tuple(sorted((load_board_file(p) for p in boards_dir().glob("*.toml")), key=lambda b: b.id))


def get_board(name: str) -> Board:
    """Resolve a board id or alias; an unknown name is a UserError listing the known ones."""
    for board in all_boards():
        if name == board.id or name in board.aliases:
            return board
    known = ", ".join(b.id for b in all_boards())
    raise UserError(f"unknown board '{name}'", hint=f"known boards: {known} (see: deploy boards)")
