"""The pytest plugin's own behaviour, without booting boards: registration next to pytest-embedded and
labgrid, the boards marker (parametrize, skip an absent board with its reason), the firmware cache, and
the QEMU service for Arm machines."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

pytest.importorskip("pytest_embedded_qemu", reason="needs the rig extra: pip install -e .[rig]")

from tinydeploy.boards import get_board  # noqa: E402
from tinydeploy.rig import firmware_cache  # noqa: E402


def plugin_args() -> list[str]:
    """Load the plugin by its entry point when installed (pip install -e .), else by module name."""
    installed = any(e.value == "tinydeploy.rig.pytest_plugin" for e in entry_points(group="pytest11"))
    return [] if installed else ["-p", "tinydeploy.rig.pytest_plugin"]


def run_pytest(tmp_path: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """pytest in tmp_path with an empty ini: the project's addopts (-p no:labgrid) do not apply."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    cmd = [sys.executable, "-m", "pytest", "-c", str(tmp_path / "pytest.ini"), "-p", "no:cacheprovider",
           *plugin_args(), *args]
    return subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=timeout)


def test_ordinary_tests_still_run_with_pytest_embedded_and_labgrid_loaded(tmp_path):
    # Both plugins define a `target` fixture, pytest-embedded requests it for every test, and labgrid's
    # skips the test without --lg-env: unarbitrated, every test of every suite here would be skipped.
    pytest.importorskip("labgrid")
    (tmp_path / "test_plain.py").write_text("def test_plain():\n    assert True\n")
    result = run_pytest(tmp_path, "-p", "labgrid", "-q", "test_plain.py")
    assert "1 passed" in result.stdout, result.stdout + result.stderr


def test_boards_marker_parametrizes_and_skips_with_reasons(tmp_path):
    (tmp_path / "test_boards.py").write_text(
        "import pytest\n"
        "@pytest.mark.boards('nucleo-f446re', 'pico')\n"
        "def test_on_real_boards(deployed_model):\n    pass\n"
        "def test_without_board(deployed_model):\n    pass\n"
        "@pytest.mark.boards('no-such-board')\n"
        "def test_unknown_board(deployed_model):\n    pass\n")
    result = run_pytest(tmp_path, "-q", "-rsf", "test_boards.py", "--tinydeploy-model", str(tmp_path / "m.tflite"))
    out = result.stdout
    assert "3 skipped" in out, out
    assert "board nucleo-f446re is not connected" in out, out
    assert "board pico is not connected" in out, out
    assert "no board: pass --tinydeploy-board" in out, out
    assert "unknown board 'no-such-board'" in out and "1 error" in out, out  # a typo fails, never skips


@pytest.mark.qemu
def test_arm_qemu_service_runs_mps2_without_a_flash_drive(tmp_path):
    from tinydeploy.rig.qemu_service import start_qemu_dut

    elf = _any_qemu_m4_elf()
    dut, qemu, parts = start_qemu_dut(get_board("qemu-m4"), elf, logdir=tmp_path, name="svc")
    try:
        assert "-drive" not in qemu.args and "mps2-an386" in qemu.args
        assert qemu.url.startswith("socket://127.0.0.1:")
        dut.expect("QEMU waiting for connection", timeout=5)  # QEMU's output reaches the DUT log
    finally:
        qemu.terminate()
        parts.close()
    assert qemu.poll() is not None


def _any_qemu_m4_elf() -> Path:
    from tinydeploy import zoo

    fw = firmware_cache.cached_firmware(zoo.tflite_model("digits_cnn"), get_board("qemu-m4"))
    return fw.elf


def test_labgrid_env_places_are_read_from_the_environment_file(tmp_path):
    pytest.importorskip("labgrid")
    from tinydeploy.rig.labgrid_place import coordinator_address, env_places

    env = tmp_path / "env.yaml"
    env.write_text("targets:\n  a:\n    resources:\n      RemotePlace:\n        name: bench-1\n"
                   "  b:\n    resources:\n      RemotePlace:\n        name: bench-2\n"
                   "options:\n  coordinator_address: 127.0.0.1:30000\n")
    assert env_places(env) == {"a": "bench-1", "b": "bench-2"}
    assert coordinator_address(env) == "127.0.0.1:30000"
    assert coordinator_address(None) == os.environ.get("LG_COORDINATOR", "127.0.0.1:20408")


@pytest.mark.qemu
def test_real_board_path_shares_the_port_with_the_serial_dut(tmp_path):
    """A real board's session (pytest-embedded serial service + DUT, the link on the same port), with
    QEMU's UART socket standing in for the USB port."""
    import numpy as np

    from tinydeploy import zoo
    from tinydeploy.flash.qemu import QemuRunner
    from tinydeploy.rig.devices import open_real

    fw = firmware_cache.cached_firmware(zoo.tflite_model("digits_cnn"), get_board("qemu-m4"))
    with QemuRunner(fw.board, fw.elf, timeout=60) as runner:
        device = open_real(fw, port=runner.url, logdir=tmp_path, name="real", flash=False)
        try:
            assert device.link.info.model_sha256 == fw.model_sha256
            spec = device.link.info.inputs[0]
            with device.exclusive() as link:  # the DUT's reader pauses while the protocol runs
                result = link.infer([np.zeros(spec.shape, spec.dtype)])
            assert result.outputs[0].size == 10 and device.dut is not None
        finally:
            device.close()
