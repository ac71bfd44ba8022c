"""The board registry: every board file loads and validates; real boards' facts match the hardware;
malformed files and unknown names are one-line UserErrors; `deploy boards` lists them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tinydeploy.boards import all_boards, get_board, load_board_file
from tinydeploy.errors import UserError
from tinydeploy.paths import boards_dir

REAL_BOARDS = ("nano33", "nucleo-f446re", "nucleo-h743zi", "pico", "nrf52840-dk")


def test_every_board_file_loads() -> None:
    files = sorted(boards_dir().glob("*.toml"))
    boards = [load_board_file(p) for p in files]
    assert [b.id for b in boards] == [p.stem for p in files]
    assert {b.id for b in all_boards()} >= set(REAL_BOARDS)
    for board in boards:
        assert board.kind in ("real", "emulated", "native")
        assert board.is_emulated == (board.qemu is not None), board.id
        if board.kind != "native":
            assert board.flash_bytes > 0 and board.ram_bytes > 0, board.id


def test_ids_and_aliases_are_unique() -> None:
    names = [n for b in all_boards() for n in (b.id, *b.aliases)]
    assert len(names) == len(set(names))


@pytest.mark.parametrize(
    "board_id, cpu, fpu, dsp, clock_mhz, flash_kb, ram_kb, platform, pio_board, protocol",
    [
        ("nano33", "cortex-m4", True, True, 64, 1024, 256, "nordicnrf52", "nano33ble", "sam-ba"),
        ("nucleo-f446re", "cortex-m4", True, True, 180, 512, 128, "ststm32", "nucleo_f446re", "stlink"),
        ("nucleo-h743zi", "cortex-m7", True, True, 400, 2048, 512, "ststm32", "nucleo_h743zi", "stlink"),
        ("pico", "cortex-m0plus", False, False, 133, 2048, 264, "raspberrypi", "pico", "picotool"),
        ("nrf52840-dk", "cortex-m4", True, True, 64, 1024, 256, "nordicnrf52", "nrf52840_dk", "jlink"),
    ],
)
def test_real_board_facts(board_id, cpu, fpu, dsp, clock_mhz, flash_kb, ram_kb, platform, pio_board, protocol) -> None:
    b = get_board(board_id)
    assert b.kind == "real"
    assert (b.cpu, b.features.fpu, b.features.dsp, b.features.mve) == (cpu, fpu, dsp, False)
    assert b.clock_hz == clock_mhz * 1_000_000
    assert (b.flash_bytes, b.ram_bytes) == (flash_kb * 1024, ram_kb * 1024)
    assert (b.platformio.platform, b.platformio.board, b.platformio.framework) == (platform, pio_board, "arduino")
    assert b.platformio.upload_protocol == protocol
    assert b.serial.usb_ids and b.latency_unit == "cycles"


def test_usb_ids_identify_boards() -> None:
    assert "2341:805a" in get_board("nano33").serial.usb_ids  # Arduino Nano 33 BLE
    assert "0483:374b" in get_board("nucleo-f446re").serial.usb_ids  # ST-LINK/V2-1
    assert "2e8a:0003" in get_board("pico").serial.usb_ids  # RP2040 boot ROM


def test_alias_resolves() -> None:
    assert get_board("nano33ble").id == "nano33"


def test_unknown_board_lists_known_ones() -> None:
    with pytest.raises(UserError) as err:
        get_board("arduino-uno")
    assert "unknown board 'arduino-uno'" in str(err.value)
    assert "nano33" in str(err.value) and "qemu-m4" in str(err.value)


GOOD = """
id = "{id}"
name = "Test board"
kind = "real"
cpu = "cortex-m4"
arch = "armv7e-m"
clock_hz = 64_000_000
flash_bytes = 0x100000
ram_bytes = 0x40000
[platformio]
platform = "nordicnrf52"
board = "nano33ble"
"""


def _write(tmp_path: Path, text: str, name: str = "t.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_minimal_file_loads(tmp_path: Path) -> None:
    board = load_board_file(_write(tmp_path, GOOD.format(id="t")))
    assert board.serial.baud == 115200 and board.features.fpu is False and board.qemu is None


@pytest.mark.parametrize(
    "mutation, message",
    [
        (lambda s: s.replace("clock_hz = 64_000_000", 'clock_hz = "64 MHz"'), "'clock_hz' must be int"),
        (lambda s: s.replace('kind = "real"', 'kind = "virtual"'), "'kind' must be one of"),
        (lambda s: s.replace('cpu = "cortex-m4"\n', ""), "'cpu' is missing"),
        (lambda s: s + "\n[serial]\nusb_ids = ['2341-805a']\n", "'serial.usb_ids'"),
        (lambda s: s + "\n[features]\nfpuu = true\n", "'features.fpuu' is not a known field"),
        (lambda s: s.replace('kind = "real"', 'kind = "emulated"'), "'qemu' is required"),
        (lambda s: s.replace('id = "t"', 'id = "other"'), "must agree"),
        (lambda s: s.replace("[platformio]", "[platformio"), "not valid TOML"),
    ],
)
def test_malformed_file_names_file_and_field(tmp_path: Path, mutation, message) -> None:
    path = _write(tmp_path, mutation(GOOD.format(id="t")))
    with pytest.raises(UserError) as err:
        load_board_file(path)
    assert message in str(err.value)
    assert str(path) in str(err.value)


def _deploy(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tinydeploy.cli", *args], capture_output=True, text=True, timeout=60)


def test_deploy_boards_json() -> None:
    out = _deploy("boards", "--json")
    assert out.returncode == 0, out.stderr
    listed = {b["id"]: b for b in json.loads(out.stdout)}
    assert set(listed) == {b.id for b in all_boards()}
    assert listed["nano33"]["platformio"]["board"] == "nano33ble"
    assert listed["nano33"]["latency_unit"] == "cycles"
    assert listed["qemu-m4"]["qemu"]["machine"] == "mps2-an386"


def test_deploy_boards_table_and_unknown() -> None:
    out = _deploy("boards")
    assert out.returncode == 0 and "nucleo-h743zi" in out.stdout and "mps2-an386" in out.stdout
    bad = _deploy("boards", "nope")
    assert bad.returncode == 2 and "unknown board 'nope'" in bad.stderr and "Traceback" not in bad.stderr
