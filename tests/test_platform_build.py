"""The platform builds: banner firmware for every QEMU board and native, warning-free, with sane sizes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tinydeploy.flash import firmware
from tinydeploy.paths import firmware_dir

QEMU_BOARDS = ["qemu-m3", "qemu-m4", "qemu-m7", "qemu-m33", "qemu-m55"]
BANNER = firmware_dir() / "app" / "banner.c"


@pytest.mark.parametrize("board_id", QEMU_BOARDS + ["native"])
def test_banner_compiles_warning_free(board_id: str, tmp_path: Path) -> None:
    elf = firmware.compile_firmware(board_id, [BANNER], [], tmp_path, name="banner", extra_flags=["-Werror"])
    assert elf.is_file()
    size = json.loads((tmp_path / "banner.size.json").read_text())
    assert 1000 < size["flash_bytes"] < 64 * 1024
    assert 0 <= size["ram_bytes"] < 16 * 1024


@pytest.mark.parametrize("board_id", QEMU_BOARDS)
def test_vector_table_sits_at_the_boot_address(board_id: str, tmp_path: Path) -> None:
    board = firmware.resolve_board(board_id)
    elf = firmware.compile_firmware(board, [BANNER], [], tmp_path, name="banner")
    symbols = subprocess.run(["arm-none-eabi-nm", str(elf)], capture_output=True, text=True, check=True).stdout
    addresses = {line.split()[2]: int(line.split()[0], 16) for line in symbols.splitlines() if len(line.split()) == 3}
    assert board.qemu is not None
    assert addresses["mps2_vectors"] == board.qemu.flash_origin
    assert addresses["__stack_top"] == board.qemu.ram_origin + board.qemu.ram_bytes
    if board.qemu.flash_origin != 0 and board.qemu.machine == "mps3-an547":
        assert addresses["mps2_boot_vectors"] == 0x10000000


def test_platform_defines_come_from_the_board_file() -> None:
    defines = firmware.platform_defines(firmware.resolve_board("qemu-m33"))
    assert defines["TD_BOARD_ID"] == '"qemu-m33"'
    assert defines["TD_UART_BASE"] == "0x50200000u"  # the Secure alias: the core boots Secure
    assert defines["TD_SYSCLK_HZ"] == "20000000u"
    assert "TD_QEMU_MACHINE_MPS2_AN505" in defines
    assert "TD_UART_BASE" not in firmware.platform_defines(firmware.resolve_board("native"))


def test_linker_script_is_rendered_from_the_qemu_memory_map(tmp_path: Path) -> None:
    script = firmware.render_linker_script(firmware.resolve_board("qemu-m55"), tmp_path / "m55.ld")
    assert script is not None
    text = script.read_text()
    # Boots at the ITCM (two words there), runs from the 8 MiB QSPI, data in the 4 MiB ISRAM, all Secure.
    assert "BOOT  (rx)  : ORIGIN = 0x10000000, LENGTH = 8" in text
    assert "FLASH (rx)  : ORIGIN = 0x38000000, LENGTH = 0x800000" in text
    assert "RAM   (rwx) : ORIGIN = 0x31000000, LENGTH = 0x400000" in text
    m33 = firmware.render_linker_script(firmware.resolve_board("qemu-m33"), tmp_path / "m33.ld")
    assert m33 is not None and "BOOT  (rx)" not in m33.read_text()  # FLASH itself starts at the boot address
    assert firmware.render_linker_script(firmware.resolve_board("native"), tmp_path / "n.ld") is None


def test_compile_error_is_a_user_error_naming_the_source(tmp_path: Path) -> None:
    broken = tmp_path / "broken.c"
    broken.write_text("int main(void) { return undefined_thing; }\n")
    with pytest.raises(firmware.FirmwareBuildError, match="broken.c"):
        firmware.compile_firmware("qemu-m4", [broken], [], tmp_path / "out")


def test_ram_overflow_is_reported_by_the_linker(tmp_path: Path) -> None:
    big = tmp_path / "big.c"
    big.write_text(
        '#include "td_platform.h"\n'
        "static volatile unsigned char arena[5u * 1024u * 1024u];\n"
        "int main(void) { arena[0] = 1; td_platform_exit(arena[0]); }\n"
    )
    with pytest.raises(firmware.FirmwareBuildError, match="overflow"):
        firmware.compile_firmware("qemu-m4", [big], [], tmp_path / "out")
