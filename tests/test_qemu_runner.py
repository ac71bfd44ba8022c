"""The qemu_mps2 platform under the QEMU runner: banner, counter, echo, exit status, fault marker."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from platform_banner import read_line, run_banner
from tinydeploy.errors import LinkError, UserError
from tinydeploy.flash.firmware import compile_firmware, resolve_board
from tinydeploy.flash.qemu import FAULT_EXIT_STATUS, FirmwareFault, QemuRunner, make_runner
from tinydeploy.paths import firmware_dir

pytestmark = pytest.mark.qemu

QEMU_BOARDS = ["qemu-m3", "qemu-m4", "qemu-m7", "qemu-m33", "qemu-m55"]
BANNER = firmware_dir() / "app" / "banner.c"


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("qemu-banner")


def banner_elf(build_dir: Path, board_id: str, *, fault: bool = False) -> Path:
    name = "banner-fault" if fault else "banner"
    elf = build_dir / board_id / f"{name}.elf"
    if not elf.exists():
        defines = {"TD_BANNER_FAULT": None} if fault else {}
        compile_firmware(board_id, [BANNER], [], build_dir / board_id, name=name, defines=defines)
    return elf


@pytest.mark.parametrize("board_id", QEMU_BOARDS)
def test_banner_echo_and_exit(board_id: str, build_dir: Path) -> None:
    board = resolve_board(board_id)
    with QemuRunner(board, banner_elf(build_dir, board_id), timeout=60) as run:
        with run.open_serial(timeout=10) as port:
            session = run_banner(port, payload=b"echo \x00\xff\x7f through the UART", status=0)
        assert run.wait(20) == 0
        run.check(0)
    assert session.banner["board"] == board_id
    assert session.banner["unit"] == "instructions" == board.latency_unit
    assert session.banner["scale"] == "1"
    assert int(session.banner["clock_hz"]) == board.clock_hz
    assert session.echoed == b"echo \x00\xff\x7f through the UART"
    # The counter counts instructions: a loop of a known length reads back to within one SysTick tick
    # (1e9 / sysclk instructions: 40 at 25 MHz, 50 at 20 MHz, 31.25 at 32 MHz), never backwards.
    executed = int(session.calib["loop_instructions"])
    counted = int(session.calib["counted"])
    tick = 1e9 / board.qemu.sysclk_hz
    assert abs(counted - executed) <= tick + 1, session.calib
    assert session.calib["monotonic_errors"] == "0"
    assert 0 < int(session.bye["stack_used"]) < 8192


def test_counter_is_repeatable_run_to_run(build_dir: Path) -> None:
    readings = []
    for _ in range(2):
        with QemuRunner("qemu-m4", banner_elf(build_dir, "qemu-m4"), timeout=60) as run:
            with run.open_serial(timeout=10) as port:
                session = run_banner(port)
            run.wait(20)
            run.check(0)
        readings.append((session.banner["counter"], session.calib["counted"]))
    assert readings[0] == readings[1]


def test_nonzero_exit_status_comes_through_semihosting(build_dir: Path) -> None:
    with QemuRunner("qemu-m33", banner_elf(build_dir, "qemu-m33"), timeout=60) as run:
        with run.open_serial(timeout=10) as port:
            run_banner(port, status=42)
        assert run.wait(20) == 42
        assert run.exit_marker_status == 42
        run.check(42)
        with pytest.raises(FirmwareFault, match="status 42"):
            run.check(0)


@pytest.mark.parametrize("board_id", QEMU_BOARDS)
def test_fault_prints_marker_and_exits_nonzero(board_id: str, build_dir: Path) -> None:
    with QemuRunner(board_id, banner_elf(build_dir, board_id, fault=True), timeout=60) as run:
        with run.open_serial(timeout=10) as port:
            read_line(port, b"td-banner")
            read_line(port, b"td-calib")
            read_line(port, b"td-fault now")
            port.read_until(b"\n")  # the marker starts on a fresh line
            uart_marker = read_line(port, b"*** HARDFAULT")
        status = run.wait(20)
    assert status == FAULT_EXIT_STATUS != 0
    assert b"pc=0x00000100" in uart_marker  # the even (Arm-state) branch target
    assert b"cfsr=0x00020000" in uart_marker  # UsageFault INVSTATE
    assert run.hardfault is not None and "pc=0x00000100" in run.hardfault
    with pytest.raises(FirmwareFault, match="faulted"):
        run.check(0)


def test_run_limit_kills_a_guest_nobody_talks_to(build_dir: Path) -> None:
    run = QemuRunner("qemu-m4", banner_elf(build_dir, "qemu-m4"), timeout=2)
    with run:
        start = time.monotonic()
        with pytest.raises(LinkError):
            run.wait()  # nobody connects: the guest never starts, the 2 s limit ends it
        assert time.monotonic() - start < 10
    assert not run.running


def test_stop_on_exception_leaves_no_process(build_dir: Path) -> None:
    with pytest.raises(RuntimeError):
        with QemuRunner("qemu-m4", banner_elf(build_dir, "qemu-m4"), timeout=60) as run:
            pid = run._proc.pid
            raise RuntimeError("boom")
    assert not run.running
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_missing_elf_and_non_emulated_board_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        QemuRunner("qemu-m4", tmp_path / "nope.elf")
    with pytest.raises(UserError, match="not emulated"):
        QemuRunner("native", tmp_path / "nope.elf")
    with pytest.raises(UserError, match="unknown emulator backend"):
        make_runner("qemu-m4", tmp_path / "x.elf", backend="bochs")


def test_cxx_static_constructors_run_before_main(tmp_path: Path) -> None:
    source = tmp_path / "ctor.cc"
    source.write_text(
        '#include "td_platform.h"\n'
        "struct Answer { int value; Answer() : value(42) {} };\n"
        "static Answer answer;\n"
        "int main() { td_platform_init(); td_platform_exit(answer.value); }\n"
    )
    elf = compile_firmware("qemu-m55", [source], [], tmp_path, name="ctor", extra_flags=["-Werror"])
    with QemuRunner("qemu-m55", elf, timeout=60) as run:
        with run.open_serial(timeout=10):
            assert run.wait(20) == 42
        run.check(42)


@pytest.mark.parametrize("board_id", ["qemu-m4", "qemu-m33"])
def test_read_timeout_runs_on_wall_clock_time_while_idle(board_id: str, tmp_path: Path) -> None:
    # Under -icount shift=0 (sleep=on) virtual time follows the host clock while the core sleeps in WFI,
    # so td_link_read's millisecond timeout is roughly real time (and ends, rather than hanging).
    elf = compile_firmware(board_id, [BANNER], [], tmp_path, name="banner", defines={"TD_BANNER_IDLE_TIMEOUT_MS": 500})
    with QemuRunner(board_id, elf, timeout=60) as run:
        with run.open_serial(timeout=10) as port:
            read_line(port, b"td-banner")
            read_line(port, b"td-calib")
            read_line(port, b"td-echo ready")
            start = time.monotonic()
            read_line(port, b"td-echo timeout")
            waited = time.monotonic() - start
        assert run.wait(20) == 1
    assert 0.3 < waited < 5.0
