"""Offline PlatformIO provisioning: complete, idempotent, fast on a warm run; the environment every pio
call gets disables the network-bound checks; real boards fail fast offline, naming the platform."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import platformio
import pytest

from tinydeploy.boards import get_board
from tinydeploy.build import pio
from tinydeploy.build.provision import (
    pio_home,
    provision,
    scons_package_version,
    toolchain_package_version,
)
from tinydeploy.errors import ToolMissingError


@pytest.fixture
def fresh_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TINYDEPLOY_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_package_versions_follow_platformio_numbering() -> None:
    assert scons_package_version("4.11.1") == "4.41101.0"
    assert scons_package_version("4.8.0") == "4.40800.0"
    assert toolchain_package_version("12.2.1") == "1.120201.0"


def test_provision_from_scratch_then_idempotent(fresh_cache: Path) -> None:
    first = provision()
    home = first.home
    assert home == fresh_cache / "pio-home" == pio_home()
    assert first.changed
    assert {"qemu-m3", "qemu-m4", "qemu-m7", "qemu-m33", "qemu-m55", "native"} <= set(first.boards)

    state = json.loads((home / "appstate.json").read_text())
    assert state["last_version"] == platformio.__version__
    scons = home / "packages" / "tool-scons"
    assert json.loads((scons / "package.json").read_text())["version"].startswith("4.4")
    assert json.loads((scons / ".piopm").read_text())["spec"]["owner"] == "platformio"
    gcc = home / "packages" / "toolchain-gccarmnoneeabi" / "bin" / "arm-none-eabi-gcc"
    assert gcc.is_symlink() and os.readlink(gcc) == "/usr/bin/arm-none-eabi-gcc"
    link = json.loads((home / "platforms" / "tinydeploy.pio-link").read_text())
    assert link["spec"]["uri"].endswith("/platformio")
    manifest = json.loads((home / "boards" / "qemu-m4.json").read_text())
    board = get_board("qemu-m4")
    assert manifest["upload"]["qemu_machine"] == board.qemu.machine
    assert manifest["upload"]["maximum_size"] == board.flash_bytes
    assert manifest["build"]["cpu_flags"] == list(board.platformio.build_flags)
    assert manifest["build"]["defines"]["TD_BOARD_ID"] == '"qemu-m4"'
    assert Path(manifest["build"]["ldscript"]).is_file()

    mtimes = {p: p.stat().st_mtime_ns for p in home.rglob("*") if p.is_file() and not p.is_symlink()}
    started = time.monotonic()
    second = provision()
    assert time.monotonic() - started < 5
    assert second.changed == []
    assert mtimes == {p: p.stat().st_mtime_ns for p in mtimes}


def test_provision_repairs_a_foreign_appstate(fresh_cache: Path) -> None:
    home = provision().home
    (home / "appstate.json").write_text(json.dumps({"last_version": "6.1.0"}))
    assert str(home / "appstate.json") in provision().changed
    assert json.loads((home / "appstate.json").read_text())["last_version"] == platformio.__version__


def test_provision_module_entry_point() -> None:
    out = subprocess.run([sys.executable, "-m", "tinydeploy.build.provision"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "PlatformIO home" in out.stdout


def test_pio_env_disables_network_checks() -> None:
    env = pio.pio_env(get_board("qemu-m4"))
    assert env["PLATFORMIO_CORE_DIR"] == str(pio_home())
    assert env["PLATFORMIO_DISABLE_UPGRADE_CHECK"] == "true"
    assert env["PLATFORMIO_SETTING_ENABLE_TELEMETRY"] == "no"
    assert int(env["PLATFORMIO_SETTING_CHECK_PLATFORMIO_INTERVAL"]) >= 365


def test_pio_runs_offline_in_a_fresh_home(fresh_cache: Path) -> None:
    """The 62-second pitfall: a fresh home must answer at once, not try to upgrade over the network."""
    provision()
    started = time.monotonic()
    out = pio.run_pio(["platform", "list", "--json-output"], timeout=60)
    assert out.returncode == 0, out.stdout
    assert time.monotonic() - started < 30
    assert "tinydeploy" in out.stdout


def test_user_home_with_platform_is_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    user_home = tmp_path / "user-pio"
    (user_home / "platforms" / "nordicnrf52").mkdir(parents=True)
    (user_home / "platforms" / "nordicnrf52" / "platform.json").write_text('{"name": "nordicnrf52"}')
    monkeypatch.setenv("TINYDEPLOY_USER_PIO_HOME", str(user_home))
    board = get_board("nano33")
    assert pio.ensure_platform(board) == user_home
    assert pio.pio_env(board)["PLATFORMIO_CORE_DIR"] == str(user_home)
    assert pio.pio_env(get_board("qemu-m4"))["PLATFORMIO_CORE_DIR"] == str(pio_home())


def test_missing_real_platform_fails_fast_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINYDEPLOY_USER_PIO_HOME", str(tmp_path / "empty"))
    monkeypatch.setattr(pio, "registry_reachable", lambda timeout=3.0: False)
    with pytest.raises(ToolMissingError) as err:
        pio.ensure_platform(get_board("pico"))
    assert "'raspberrypi'" in str(err.value) and "pio pkg install -g -p raspberrypi" in str(err.value)


def test_deploy_build_real_board_offline_fails_in_seconds(tmp_path: Path) -> None:
    env = dict(os.environ, TINYDEPLOY_USER_PIO_HOME=str(tmp_path / "empty"))
    if pio.registry_reachable():
        pytest.skip("the PlatformIO registry is reachable here: this checks the offline failure")
    started = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "tinydeploy.cli", "build", "--board", "nano33"],
                         capture_output=True, text=True, timeout=60, env=env)
    assert time.monotonic() - started < 15
    assert out.returncode == 2
    assert "nordicnrf52" in out.stderr and "pio pkg install" in out.stderr
    assert "Traceback" not in out.stderr and "HTTPClientError" not in out.stderr
