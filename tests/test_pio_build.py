"""Real PlatformIO builds with the in-repo dev-platform, offline: the top-level platformio.ini's envs build
the banner firmware and `-t upload` runs it in QEMU (or on the host for native), showing its UART."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tinydeploy.boards import get_board
from tinydeploy.build.pio import build_project, pio_env
from tinydeploy.paths import firmware_dir, repo_root


def _pio(args: list[str], build_dir: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """`python -m tinydeploy.build.pio ...` (what scripts/pio and `make pio` run) in an isolated build dir."""
    env = dict(os.environ, PLATFORMIO_BUILD_DIR=str(build_dir))
    return subprocess.run([sys.executable, "-m", "tinydeploy.build.pio", *args], cwd=repo_root(), env=env,
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.mark.qemu
def test_top_level_qemu_m4_builds_and_runs_in_qemu(tmp_path: Path) -> None:
    build = _pio(["run", "-e", "qemu-m4"], tmp_path)
    assert build.returncode == 0, build.stdout[-3000:]
    elf = tmp_path / "qemu-m4" / "firmware.elf"
    assert elf.is_file() and (tmp_path / "qemu-m4" / "firmware.bin").is_file()
    assert "Flash:" in build.stdout  # PlatformIO's size report

    upload = _pio(["run", "-e", "qemu-m4", "-t", "upload"], tmp_path, timeout=120)
    assert upload.returncode == 0, upload.stdout[-3000:]
    assert "qemu-system-arm -M mps2-an386 -nographic -icount shift=0" in upload.stdout
    assert "td-banner board=qemu-m4 unit=instructions" in upload.stdout
    assert "hello" in upload.stdout  # custom_run_input reached the firmware's UART and came back


@pytest.mark.qemu
def test_build_project_reports_sizes_of_the_top_level_firmware(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLATFORMIO_BUILD_DIR", str(tmp_path))
    board = get_board("qemu-m7")
    result = build_project(repo_root(), board, timeout=300)
    assert result.elf == tmp_path / "qemu-m7" / "firmware.elf" and result.elf.is_file()
    assert 1000 < result.flash_bytes < board.flash_bytes
    assert 0 < result.ram_bytes < board.ram_bytes
    assert result.log.is_file()


def test_every_pio_env_has_a_timeout_and_offline_settings() -> None:
    env = pio_env()
    assert env["PLATFORMIO_SETTING_ENABLE_TELEMETRY"] == "no"
    assert env["PATH"].split(os.pathsep)[0] == str(Path(sys.executable).parent)


@pytest.mark.skipif(not any((firmware_dir() / "platform" / "native").glob("*.c")),
                    reason="the native platform code (firmware/platform/native/) is not there yet")
def test_top_level_native_builds_and_runs(tmp_path: Path) -> None:
    upload = _pio(["run", "-e", "native", "-t", "upload"], tmp_path, timeout=120)
    assert upload.returncode == 0, upload.stdout[-3000:]
    assert "td-banner board=native" in upload.stdout
