"""The native platform under the native runner: banner, ns counter, socket echo, exit, fault."""

from __future__ import annotations

from pathlib import Path

import pytest

from platform_banner import read_line, run_banner
from tinydeploy.errors import LinkError
from tinydeploy.flash.firmware import compile_firmware
from tinydeploy.flash.native import FAULT_EXIT_STATUS, NativeRunner
from tinydeploy.flash.qemu import FirmwareFault
from tinydeploy.paths import firmware_dir

BANNER = firmware_dir() / "app" / "banner.c"


@pytest.fixture(scope="module")
def banner(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return compile_firmware("native", [BANNER], [], tmp_path_factory.mktemp("native"), name="banner")


@pytest.fixture(scope="module")
def banner_fault(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("native-fault")
    return compile_firmware("native", [BANNER], [], out, name="banner", defines={"TD_BANNER_FAULT": None})


def test_banner_echo_and_exit_over_the_socket(banner: Path) -> None:
    payload = bytes(b for b in range(256) if b != 0x04) * 8  # every byte value but EOT, unaltered
    with NativeRunner(banner, timeout=30) as run:
        assert run.url.startswith("socket://127.0.0.1:")
        with run.open_serial(timeout=10) as port:
            session = run_banner(port, payload=payload, status=0)
        assert run.wait(10) == 0
        run.check(0)
    assert session.banner["board"] == "native"
    assert session.banner["unit"] == "ns"
    assert session.banner["clock_hz"] == "0"
    assert session.echoed == payload
    assert int(session.calib["counted"]) > 0  # wall-clock ns for the loop
    assert session.calib["monotonic_errors"] == "0"


def test_exit_status_and_reconnecting(banner: Path) -> None:
    with NativeRunner(banner, timeout=30) as run:
        with run.open_serial(timeout=10) as port:
            read_line(port, b"td-banner")
            read_line(port, b"td-calib")
            read_line(port, b"td-echo ready")
        with run.open_serial(timeout=10) as port:  # the program waits for the host to come back
            port.write(b"again")
            assert port.read(5) == b"again"
            port.write(b"\x04\x05")
            read_line(port, b"td-bye")
        assert run.wait(10) == 5
        run.check(5)


def test_fault_marker_and_nonzero_exit(banner_fault: Path) -> None:
    with NativeRunner(banner_fault, timeout=30) as run:
        with run.open_serial(timeout=10) as port:
            read_line(port, b"td-banner")
            read_line(port, b"td-calib")
            read_line(port, b"td-fault now")
            marker = read_line(port, b"*** HARDFAULT")
        assert run.wait(10) == FAULT_EXIT_STATUS
    assert b"signal=" in marker
    assert run.hardfault is not None
    with pytest.raises(FirmwareFault, match="faulted"):
        run.check(0)


def test_a_program_that_never_opens_its_link_is_a_link_error(tmp_path: Path) -> None:
    silent = tmp_path / "silent.c"
    silent.write_text('#include "td_platform.h"\nint main(void) { td_platform_exit(0); }\n')
    exe = compile_firmware("native", [silent], [], tmp_path, name="silent")
    with pytest.raises(LinkError, match="did not announce its serial socket"):
        with NativeRunner(exe, timeout=30):
            pass


def test_make_runner_picks_the_native_runner(banner: Path) -> None:
    from tinydeploy.flash.qemu import make_runner

    assert isinstance(make_runner("native", banner, timeout=5), NativeRunner)
