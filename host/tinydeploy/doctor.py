"""Environment checks behind `deploy doctor`: each check says what it found and, when broken, the fix.

Checks only look (they never install or provision): toolchain, QEMU machines named in boards/, host gcc,
PlatformIO and the provisioned home, upstream platforms of the real boards, Python packages, serial ports.
"""

from __future__ import annotations

import grp
import importlib.metadata
import importlib.util
import json
import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tinydeploy.boards import all_boards

OK, WARN, FAIL, INFO = "ok", "warn", "FAIL", "info"
APT_TOOLCHAIN = "sudo apt-get install -y gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib"
PROVISION = ".venv/bin/python -m tinydeploy.build.provision"
PIP_INSTALL = ".venv/bin/pip install -e '.[ml,test]'"
PYTHON_PACKAGES = (  # (import name, distribution name)
    ("tensorflow", "tensorflow"),
    ("tflite_micro", "tflite-micro"),
    ("ai_edge_litert", "ai-edge-litert"),
    ("tensorflow_model_optimization", "tensorflow-model-optimization"),
    ("platformio", "platformio"),
    ("SCons", "scons"),
    ("serial", "pyserial"),
    ("jinja2", "jinja2"),
    ("rich", "rich"),
)


@dataclass
class Check:
    name: str
    status: str  # ok | warn | FAIL | info
    detail: str
    fix: str = ""  # the command (or step) that fixes it


def _run(argv: list[str], timeout: float = 20) -> subprocess.CompletedProcess | None:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None


# -------------------------------------------------------------------------------------------- tools
def check_arm_toolchain() -> list[Check]:
    gcc = shutil.which("arm-none-eabi-gcc")
    if not gcc:
        return [Check("arm-none-eabi-gcc", FAIL, "not found on PATH", APT_TOOLCHAIN)]
    version = _run([gcc, "-dumpfullversion"])
    checks = [Check("arm-none-eabi-gcc", OK, f"{gcc} {version.stdout.strip() if version else '?'}")]
    for lib, package in (("libc_nano.a", "libnewlib-arm-none-eabi"), ("libstdc++_nano.a", "libstdc++-arm-none-eabi-newlib")):
        found = _run([gcc, "-mthumb", "-mcpu=cortex-m4", f"-print-file-name={lib}"])
        path = found.stdout.strip() if found else ""
        if path and os.path.isabs(path) and os.path.isfile(path):
            checks.append(Check(f"arm {lib}", OK, path))
        else:
            checks.append(Check(f"arm {lib}", FAIL, f"missing ({package})", f"sudo apt-get install -y {package}"))
    return checks


def check_qemu() -> list[Check]:
    machines = sorted({b.qemu.machine for b in all_boards() if b.qemu})
    if not machines:
        return []
    qemu = shutil.which("qemu-system-arm")
    if not qemu:
        return [Check("qemu-system-arm", FAIL, "not found on PATH", "sudo apt-get install -y qemu-system-arm")]
    listing = _run([qemu, "-M", "help"])
    known = {line.split()[0] for line in (listing.stdout if listing else "").splitlines()[1:] if line.split()}
    version = _run([qemu, "--version"])
    checks = [Check("qemu-system-arm", OK, (version.stdout.splitlines() or ["?"])[0] if version else qemu)]
    for machine in machines:
        users = ", ".join(b.id for b in all_boards() if b.qemu and b.qemu.machine == machine)
        if machine in known:
            checks.append(Check(f"qemu machine {machine}", OK, f"for {users}"))
        else:
            checks.append(Check(f"qemu machine {machine}", FAIL, f"this QEMU lacks it (needed by {users})",
                                "install QEMU >= 7.0: sudo apt-get install -y qemu-system-arm"))
    return checks


def check_host_gcc() -> list[Check]:
    if not any(b.is_native for b in all_boards()):
        return []
    gcc = shutil.which("gcc")
    if not gcc:
        return [Check("host gcc (native board)", FAIL, "not found on PATH", "sudo apt-get install -y gcc")]
    return [Check("host gcc (native board)", OK, gcc)]


# --------------------------------------------------------------------------------------- PlatformIO
def check_platformio() -> list[Check]:
    try:
        import platformio
    except ImportError:
        return [Check("platformio", FAIL, "not installed in this Python", PIP_INSTALL)]
    from tinydeploy.build.provision import PLATFORM_NAME, SCONS_PACKAGE, TOOLCHAIN_PACKAGE, own_boards, pio_home

    checks = [Check("platformio", OK, f"{platformio.__version__} ({Path(platformio.__file__).parent})")]
    home = pio_home()
    problems = []
    state_file = home / "appstate.json"
    try:
        state = json.loads(state_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        state = {}
    if state.get("last_version") != platformio.__version__:
        problems.append("appstate.json does not name this PlatformIO version")
    if not (home / "packages" / SCONS_PACKAGE / "scons.py").is_file():
        problems.append(f"{SCONS_PACKAGE} missing")
    toolchain_gcc = home / "packages" / TOOLCHAIN_PACKAGE / "bin" / "arm-none-eabi-gcc"
    if not toolchain_gcc.exists():
        problems.append(f"{TOOLCHAIN_PACKAGE} missing")
    if not (home / "platforms" / f"{PLATFORM_NAME}.pio-link").is_file():
        problems.append(f"platform {PLATFORM_NAME} not linked")
    missing_boards = [b.id for b in own_boards() if not (home / "boards" / f"{b.platformio.board}.json").is_file()]
    if missing_boards:
        problems.append(f"board manifests missing: {', '.join(missing_boards)}")
    if problems:
        checks.append(Check("PlatformIO home (provisioned)", FAIL, f"{home}: {'; '.join(problems)}", PROVISION))
    else:
        checks.append(Check("PlatformIO home (provisioned)", OK, f"{home}: tool-scons, toolchain, {PLATFORM_NAME}"))
    return checks + check_upstream_platforms()


def check_upstream_platforms() -> list[Check]:
    """Real boards need upstream platforms; offline that is expected, so it is a warning, not a failure."""
    from tinydeploy.build.pio import install_hint, installed_platforms, user_pio_home
    from tinydeploy.build.provision import PLATFORM_NAME, pio_home, pio_platform

    checks = []
    homes = [user_pio_home(), pio_home()]
    by_platform: dict[str, list] = {}
    for board in all_boards():
        if pio_platform(board) != PLATFORM_NAME:
            by_platform.setdefault(pio_platform(board), []).append(board)
    for platform, boards in sorted(by_platform.items()):
        ids = ", ".join(b.id for b in boards)
        where = next((h for h in homes if platform in installed_platforms(h)), None)
        if where:
            checks.append(Check(f"platform {platform}", OK, f"in {where} (for {ids})"))
        else:
            checks.append(Check(f"platform {platform}", WARN, f"not installed; needed to build for {ids}",
                                install_hint(boards[0])))
    return checks


# ------------------------------------------------------------------------------------------- Python
def check_python_packages() -> list[Check]:
    checks = []
    for module, dist in PYTHON_PACKAGES:
        if importlib.util.find_spec(module) is None:
            checks.append(Check(f"python {dist}", FAIL, "not installed", PIP_INSTALL))
            continue
        try:
            version = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            version = "installed"
        checks.append(Check(f"python {dist}", OK, version))
    return checks


# ------------------------------------------------------------------------------------------- serial
def check_serial() -> list[Check]:
    try:
        from serial.tools import list_ports
    except ImportError:
        return [Check("serial ports", FAIL, "pyserial is not installed", PIP_INSTALL)]
    known = {usb_id: b.id for b in all_boards() for usb_id in b.serial.usb_ids}
    ports = [p for p in list_ports.comports() if p.vid is not None]
    if not ports:
        return [Check("serial ports", INFO, "no USB serial device connected (emulated and native boards need none)")]
    checks = []
    for port in ports:
        usb_id = f"{port.vid:04x}:{port.pid:04x}"
        board = known.get(usb_id, "unknown board")
        if os.access(port.device, os.R_OK | os.W_OK):
            checks.append(Check(f"serial {port.device}", OK, f"{usb_id} {board}"))
        else:
            checks.append(Check(f"serial {port.device}", FAIL, f"{usb_id} {board}: no read/write permission",
                                dialout_fix(port.device)))
    return checks


def dialout_fix(device: str) -> str:
    user = pwd.getpwuid(os.getuid()).pw_name
    try:
        group = grp.getgrgid(os.stat(device).st_gid).gr_name
    except (OSError, KeyError):
        group = "dialout"
    member = user in grp.getgrnam(group).gr_mem if group else False
    if member:
        return f"you are in '{group}' but this session is not: log out and back in (or run `newgrp {group}`)"
    return f"sudo usermod -aG {group} {user}  (then log out and back in)"


# --------------------------------------------------------------------------------------------- all
def run_checks() -> list[Check]:
    checks: list[Check] = []
    for check in (check_arm_toolchain, check_qemu, check_host_gcc, check_platformio, check_python_packages, check_serial):
        checks.extend(check())
    return checks


def healthy(checks: list[Check]) -> bool:
    return not any(c.status == FAIL for c in checks)
