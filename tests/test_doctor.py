"""`deploy doctor` on this machine: the real tools are found, problems come with their fix command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tinydeploy import doctor
from tinydeploy.build.provision import provision


def _deploy(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tinydeploy.cli", *args], capture_output=True, text=True,
                          timeout=120, env=env)


def test_doctor_json_on_this_machine() -> None:
    provision()
    out = _deploy("doctor", "--json")
    report = json.loads(out.stdout)
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["arm-none-eabi-gcc"]["status"] == "ok"
    for machine in ("mps2-an385", "mps2-an386", "mps2-an500", "mps2-an505", "mps3-an547"):
        assert checks[f"qemu machine {machine}"]["status"] == "ok"
    assert checks["PlatformIO home (provisioned)"]["status"] == "ok"
    for dist in ("tensorflow", "tflite-micro", "ai-edge-litert", "tensorflow-model-optimization"):
        assert checks[f"python {dist}"]["status"] == "ok"
    # Real boards' upstream platforms cannot be installed offline: a warning with the command, not a failure.
    assert checks["platform nordicnrf52"]["status"] in ("ok", "warn")
    if checks["platform nordicnrf52"]["status"] == "warn":
        assert "pio pkg install -g -p nordicnrf52" in checks["platform nordicnrf52"]["fix"]
    assert report["healthy"] is (out.returncode == 0)
    assert out.returncode == 0, [c for c in report["checks"] if c["status"] == "FAIL"]


def test_doctor_table() -> None:
    out = _deploy("doctor")
    assert "arm-none-eabi-gcc" in out.stdout and "qemu machine mps2-an386" in out.stdout
    assert "all is well" in out.stdout


def test_unprovisioned_home_fails_with_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINYDEPLOY_CACHE", str(tmp_path / "empty-cache"))
    checks = {c.name: c for c in doctor.check_platformio()}
    home = checks["PlatformIO home (provisioned)"]
    assert home.status == doctor.FAIL
    assert "tinydeploy.build.provision" in home.fix
    assert not doctor.healthy(list(checks.values()))


def test_missing_tools_are_reported_with_apt_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(doctor.shutil, "which", lambda name: None)
    arm = doctor.check_arm_toolchain()
    assert arm[0].status == doctor.FAIL and "apt-get install" in arm[0].fix and "gcc-arm-none-eabi" in arm[0].fix
    qemu = doctor.check_qemu()
    assert qemu[0].status == doctor.FAIL and "qemu-system-arm" in qemu[0].fix


def test_serial_permission_problem_names_the_group(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    device = tmp_path / "ttyACM0"
    device.write_text("")

    class Port:
        def __init__(self) -> None:
            self.device, self.vid, self.pid = str(device), 0x2341, 0x805A

    from serial.tools import list_ports

    monkeypatch.setattr(list_ports, "comports", lambda: [Port()])
    monkeypatch.setattr(doctor.os, "access", lambda path, mode: False)
    (check,) = doctor.check_serial()
    assert check.status == doctor.FAIL and "nano33" in check.detail
    assert "usermod -aG" in check.fix or "log out" in check.fix
