"""A labgrid board farm on loopback: a coordinator, and one exporter per emulated board (a "place").

    with LoopbackFarm(fw, places=("qemu-a", "qemu-b"), workdir=tmp) as farm:
        farm.env_file        # a labgrid environment naming the places: pytest --lg-env <it>, deploy verify ...
        farm.take_away("qemu-b")   # the board and its serial server vanish, as when a rig host dies

Each place is what a real farm has, with the board emulated: QEMU runs the firmware with its UART on a
pty; ser2net serves that pty over RFC2217 on 127.0.0.1 (as labgrid's exporter does for a USB UART, but
bound to loopback only); a labgrid exporter publishes it as a NetworkSerialPort; the coordinator holds
a place matching it.  Every process listens on 127.0.0.1 only, runs in its own process group, dies with
this process (parent-death signal), is killed after `lifetime` seconds at the latest, and is stopped when
the with-block ends.  Used by scripts/labgrid-demo.sh and tests/test_rig_labgrid.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from tinydeploy.errors import LinkError, ToolMissingError, UserError
from tinydeploy.flash.qemu import QemuRunner, _die_with_parent, _free_port
from tinydeploy.procs import spawn_group, stop_group
from tinydeploy.rig.firmware_cache import Firmware

STARTUP_TIMEOUT_S = 30.0
_PTY = re.compile(r"char device redirected to (/dev/pts/\d+) \(label uart0\)")


def _tool(name: str) -> str:
    found = shutil.which(name) or str(Path(sys.executable).with_name(name))
    if not Path(found).is_file():
        hint = "apt-get install ser2net" if name == "ser2net" else "pip install -e .[rig]"
        if name == "ser2net" and Path("/usr/sbin/ser2net").is_file():
            return "/usr/sbin/ser2net"
        raise ToolMissingError(f"'{name}' is not installed", hint=hint)
    return found


def missing_tools() -> list[str]:
    """The tools a loopback farm needs that this machine lacks (empty when it can run one)."""
    missing = []
    for name in ("labgrid-coordinator", "labgrid-exporter", "labgrid-client", "ser2net", "qemu-system-arm"):
        try:
            _tool(name)
        except ToolMissingError:
            missing.append(name)
    return missing


@dataclass
class Place:
    name: str
    serial_port: int = 0
    pty: str = ""
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)  # qemu, ser2net, exporter


class LoopbackFarm:
    def __init__(self, fw: Firmware, *, places: tuple[str, ...] = ("qemu-a", "qemu-b"), workdir: Path,
                 lifetime: float = 600.0) -> None:
        if not fw.board.is_emulated:
            raise UserError(f"a loopback farm runs emulated boards; {fw.board.id} is {fw.board.kind}")
        self.fw = fw
        self.workdir = Path(workdir)
        self.lifetime = lifetime
        self.places = [Place(name) for name in places]
        self.coordinator_port = 0
        self._procs: list[subprocess.Popen] = []
        self._logs: list = []
        self._watchdog: threading.Timer | None = None

    # ---- lifecycle -----------------------------------------------------------------------------------

    def __enter__(self) -> "LoopbackFarm":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.coordinator_port}"

    @property
    def env_file(self) -> Path:
        return self.workdir / "env.yaml"

    @property
    def state_file(self) -> Path:
        return self.workdir / "farm.json"

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        for stale in ("places.yaml", "resources.yaml", "farm.json"):  # the coordinator's state of a past farm
            (self.workdir / stale).unlink(missing_ok=True)
        self._watchdog = threading.Timer(self.lifetime, self.stop)
        self._watchdog.daemon = True
        self._watchdog.start()
        self.coordinator_port = _free_port()
        self._spawn("coordinator", [_tool("labgrid-coordinator"), "-l", self.address])
        self._wait_for(lambda: self._client_ok("places"), "the labgrid coordinator to answer")
        for place in self.places:
            self._start_place(place)
        self._wait_for(self._all_resources_seen, "the exporters to publish their serial ports")
        for place in self.places:
            self._client(place.name, "create")
            self._client(place.name, "add-match", f"exporter-{place.name}/{place.name}/NetworkSerialPort")
        self._write_env()
        self._write_state()

    def _start_place(self, place: Place) -> None:
        cmd = QemuRunner(self.fw.board, self.fw.elf).command(0)
        cmd[cmd.index("-chardev") + 1] = "pty,id=uart0"  # a tty for ser2net, where a real board has its UART
        qemu = place.procs["qemu"] = self._spawn(f"qemu-{place.name}", cmd)
        log = self.workdir / f"qemu-{place.name}.log"
        self._wait_for(lambda: _PTY.search(log.read_text(errors="replace")) or qemu.poll() is not None,
                       f"QEMU of place {place.name} to open its pty")
        match = _PTY.search(log.read_text(errors="replace"))
        if match is None:
            raise LinkError(f"QEMU of place {place.name} exited: {log.read_text(errors='replace')[-300:]}")
        place.pty = match.group(1)
        place.serial_port = _free_port()
        speed = self.fw.board.serial.baud
        place.procs["ser2net"] = self._spawn(f"ser2net-{place.name}", [
            _tool("ser2net"), "-d", "-n",
            "-Y", f"connection: &{place.name.replace('-', '_')}",
            "-Y", f"  accepter: telnet(rfc2217,mode=server),tcp,127.0.0.1,{place.serial_port}",
            "-Y", f"  connector: serialdev(nouucplock=true),{place.pty},{speed}n81,local",
            "-Y", "  options:",
            "-Y", "    max-connections: 1",
        ])
        config = self.workdir / f"exporter-{place.name}.yaml"
        config.write_text(f"{place.name}:\n  NetworkSerialPort:\n    host: 127.0.0.1\n"
                          f"    port: {place.serial_port}\n    speed: {speed}\n    protocol: rfc2217\n")
        place.procs["exporter"] = self._spawn(f"exporter-{place.name}", [
            _tool("labgrid-exporter"), "-c", self.address, "-n", f"exporter-{place.name}",
            "--hostname", "127.0.0.1", str(config)])

    def take_away(self, name: str) -> None:
        """The place's board and serial server vanish (its host died); the place stays in the coordinator."""
        place = next(p for p in self.places if p.name == name)
        for key in ("ser2net", "qemu"):
            proc = place.procs.get(key)
            if proc is not None:
                self._kill(proc)

    def stop(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        for proc in reversed(self._procs):
            self._kill(proc)
        for log in self._logs:
            log.close()
        self._logs.clear()

    # ---- helpers -------------------------------------------------------------------------------------

    def _spawn(self, name: str, cmd: list[str]) -> subprocess.Popen:
        log = open(self.workdir / f"{name}.log", "wb")
        self._logs.append(log)
        proc = spawn_group(_die_with_parent(cmd), cwd=self.workdir, stdin=subprocess.DEVNULL, stdout=log,
                           stderr=subprocess.STDOUT)  # its own group, ended with the farm or by procs.stop_all()
        self._procs.append(proc)
        return proc

    @staticmethod
    def _kill(proc: subprocess.Popen) -> None:
        stop_group(proc, grace=3.0)

    def _client(self, place: str | None, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess:
        cmd = [_tool("labgrid-client"), "-x", self.address] + (["-p", place] if place else []) + list(args)
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        if result.returncode != 0 and args[0] not in ("places", "resources"):
            raise UserError(f"labgrid-client {' '.join(args)} (place {place}) failed: {result.stderr.strip()[-300:]}")
        return result

    def _client_ok(self, *args: str) -> bool:
        try:
            return self._client(None, *args, timeout=10).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    def _all_resources_seen(self) -> bool:
        try:
            listing = self._client(None, "resources", timeout=10).stdout
        except subprocess.TimeoutExpired:
            return False
        return all(f"exporter-{p.name}/{p.name}/NetworkSerialPort" in listing for p in self.places)

    def _wait_for(self, condition, what: str, timeout: float = STARTUP_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            if any(p.poll() is not None for p in self._procs):
                break
            time.sleep(0.2)
        dead = [" ".join(p.args[-3:]) for p in self._procs if p.poll() is not None]  # type: ignore[index]
        raise LinkError(f"timed out waiting for {what}" + (f" (exited: {', '.join(dead)})" if dead else ""),
                        hint=f"see the logs in {self.workdir}")

    def _write_env(self) -> None:
        lines = ["# labgrid environment of the loopback farm (written by tinydeploy.rig.loopback_farm)", "targets:"]
        for place in self.places:
            lines += [f"  {place.name}:", "    resources:", "      RemotePlace:", f"        name: {place.name}"]
        lines += ["options:", f"  coordinator_address: {self.address}", ""]
        self.env_file.write_text("\n".join(lines))

    def _write_state(self) -> None:
        state = {"coordinator": self.address, "env": str(self.env_file), "board": self.fw.board.id,
                 "model_sha256": self.fw.model_sha256,
                 "places": {p.name: {"serial": f"rfc2217://127.0.0.1:{p.serial_port}", "pty": p.pty,
                                     "pids": {k: v.pid for k, v in p.procs.items()}} for p in self.places}}
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2) + "\n")
        os.replace(tmp, self.state_file)
