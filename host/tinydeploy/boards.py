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
    board_macros = []                 # what the upstream core defines for the board (ARDUINO_ARDUINO_NANO33BLE):
                                      # libraries such as TFLM's test them

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

import re
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
    board_macros: tuple[str, ...] = ()  # macros the upstream core defines for this board (its manifest's)


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


KINDS = ("real", "emulated", "native")
_USB_ID = re.compile(r"^[0-9a-f]{4}:[0-9a-f]{4}$")


class _Fields:
    """Typed access to one TOML table that names the file and the dotted key in every error."""

    def __init__(self, path: Path, table: dict, prefix: str = "") -> None:
        self.path, self.table, self.prefix = path, table, prefix
        self.used: set[str] = set()

    def _fail(self, key: str, problem: str) -> UserError:
        return UserError(
            f"{self.path}: field '{self.prefix}{key}' {problem}",
            hint="see the schema at the top of host/tinydeploy/boards.py",
        )

    def get(self, key: str, kind: type, default=..., *, choices: tuple = ()):
        self.used.add(key)
        if key not in self.table:
            if default is ...:
                raise self._fail(key, "is missing")
            return default
        value = self.table[key]
        # bool is an int subclass in Python: keep `clock_hz = true` out.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self._fail(key, f"must be {kind.__name__}, not {type(value).__name__} ({value!r})")
        if choices and value not in choices:
            raise self._fail(key, f"must be one of {', '.join(choices)}, not {value!r}")
        return value

    def positive(self, key: str, default=...) -> int:
        """A non-negative integer; without a default (a required field) it must also be non-zero."""
        value = self.get(key, int, default)
        if value < 0 or (default is ... and value == 0):
            raise self._fail(key, f"must be a positive integer, not {value}")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        values = self.get(key, list, [])
        if not all(isinstance(v, str) for v in values):
            raise self._fail(key, "must be a list of strings")
        return tuple(values)

    def sub(self, key: str, required: bool = False) -> "_Fields | None":
        table = self.get(key, dict, ... if required else None)
        return None if table is None else _Fields(self.path, table, f"{self.prefix}{key}.")

    def reject_unknown(self) -> None:
        unknown = sorted(set(self.table) - self.used)
        if unknown:
            raise self._fail(unknown[0], "is not a known field (a typo?)")


def load_board_file(path: Path) -> Board:
    """Parse one board file; a malformed file is a UserError naming it and the field."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise UserError(f"cannot read board file {path}: {err.strerror}") from err
    except tomllib.TOMLDecodeError as err:
        raise UserError(f"{path}: not valid TOML: {err}") from err

    top = _Fields(path, data)
    board_id = top.get("id", str)
    if board_id != path.stem:
        raise top._fail("id", f"is {board_id!r} but the file is named {path.name}: they must agree")
    kind = top.get("kind", str, choices=KINDS)

    features_table = top.sub("features") or _Fields(path, {}, "features.")
    features = CpuFeatures(
        fpu=features_table.get("fpu", bool, False),
        dsp=features_table.get("dsp", bool, False),
        mve=features_table.get("mve", bool, False),
    )
    features_table.reject_unknown()

    pio_table = top.sub("platformio", required=True)
    assert pio_table is not None
    platformio = PlatformIOConfig(
        platform=pio_table.get("platform", str),
        board=pio_table.get("board", str),
        framework=pio_table.get("framework", str, ""),
        upload_protocol=pio_table.get("upload_protocol", str, ""),
        build_flags=pio_table.strings("build_flags"),
        board_macros=pio_table.strings("board_macros"),
    )
    pio_table.reject_unknown()

    serial_table = top.sub("serial") or _Fields(path, {}, "serial.")
    serial = SerialConfig(baud=serial_table.positive("baud", 115200), usb_ids=serial_table.strings("usb_ids"))
    for usb_id in serial.usb_ids:
        if not _USB_ID.match(usb_id):
            raise serial_table._fail("usb_ids", f"entry {usb_id!r} must be 'vvvv:pppp' in lower-case hex")
    serial_table.reject_unknown()

    qemu = _load_qemu(top.sub("qemu"))
    if kind == "emulated" and qemu is None:
        raise top._fail("qemu", "is required for an emulated board (at least qemu.machine)")

    board = Board(
        id=board_id,
        name=top.get("name", str),
        kind=kind,
        cpu=top.get("cpu", str),
        arch=top.get("arch", str),
        features=features,
        clock_hz=top.positive("clock_hz", 0),
        # The native board is a host process: it has no flash or RAM budget (0).
        flash_bytes=top.positive("flash_bytes", 0 if kind == "native" else ...),
        ram_bytes=top.positive("ram_bytes", 0 if kind == "native" else ...),
        platformio=platformio,
        serial=serial,
        firmware_platform=top.get("firmware_platform", str, ""),
        aliases=top.strings("aliases"),
        qemu=qemu,
        source=path.resolve(),
    )
    top.reject_unknown()
    return board


def _load_qemu(table: "_Fields | None") -> QemuConfig | None:
    if table is None:
        return None
    qemu = QemuConfig(
        machine=table.get("machine", str),
        cpu=table.get("cpu", str, ""),
        flash_origin=table.positive("flash_origin", 0),
        flash_bytes=table.positive("flash_bytes", 0),
        ram_origin=table.positive("ram_origin", 0),
        ram_bytes=table.positive("ram_bytes", 0),
        uart_base=table.positive("uart_base", 0),
        sysclk_hz=table.positive("sysclk_hz", 25_000_000),
    )
    table.reject_unknown()
    return qemu


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
