"""Borrow a board from a labgrid farm: acquire a place, hand out its serial URL, release it on the way out.

    with acquired_place("qemu-a", env="examples/labgrid/env.yaml") as url:   # rfc2217://127.0.0.1:PORT?...
        with DeviceLink.open(url) as link: ...

The place's serial port is the `NetworkSerialPort` resource its exporter publishes (ser2net's RFC2217
server in front of a USB UART, or of an emulator's UART).  Acquisition and release go through
`labgrid-client` -- labgrid's own client and protocol, each call bounded by a timeout -- and the place
is released in a `finally`, so a failing or interrupted run never leaves it locked.  The coordinator
address comes from the environment file's `options: coordinator_address`, else LG_COORDINATOR, else
labgrid's default 127.0.0.1:20408.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from tinydeploy.errors import LinkError, ToolMissingError, UserError

DEFAULT_COORDINATOR = "127.0.0.1:20408"
CLIENT_TIMEOUT_S = 30.0
# ser2net answers RFC2217 SET_CONTROL requests for a pty or USB UART without the option acks pyserial
# waits for by default; this URL option makes pyserial not wait (documented in pyserial's URL handlers).
RFC2217_OPTIONS = "ign_set_control"


class PlaceBusy(UserError):
    """The place is acquired by someone else (or by another worker of this run)."""


def _client() -> str:
    exe = shutil.which("labgrid-client") or str(Path(sys.executable).with_name("labgrid-client"))
    if not Path(exe).is_file():
        raise ToolMissingError("labgrid-client is not installed", hint="pip install -e .[rig] (or pip install labgrid)")
    return exe


def env_places(env: str | Path) -> dict[str, str]:
    """{target name: place name} of every target in a labgrid environment file that names a RemotePlace."""
    from labgrid import Environment

    config = Environment(config_file=str(env)).config
    places = {}
    for target, spec in (config.get_targets() or {}).items():
        remote = (spec.get("resources") or {}).get("RemotePlace") if isinstance(spec.get("resources"), dict) else None
        if remote is None and isinstance(spec.get("resources"), list):
            remote = next((r["RemotePlace"] for r in spec["resources"] if "RemotePlace" in r), None)
        if remote is not None:
            places[target] = remote.get("name", target)
    return places


def coordinator_address(env: str | Path | None = None) -> str:
    if env is not None:
        from labgrid import Environment

        address = Environment(config_file=str(env)).config.get_option("coordinator_address", "")
        if address:
            return address
    return os.environ.get("LG_COORDINATOR", DEFAULT_COORDINATOR)


def _run(address: str, place: str, *args: str, timeout: float = CLIENT_TIMEOUT_S) -> subprocess.CompletedProcess:
    cmd = [_client(), "-x", address, "-p", place, *args]
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as err:
        raise LinkError(f"labgrid coordinator {address}: '{' '.join(args)}' on place {place} took over {timeout:g} s",
                        hint="is labgrid-coordinator running and reachable?") from err


def _message(result: subprocess.CompletedProcess) -> str:
    lines = [line for line in (result.stderr + result.stdout).splitlines() if line.strip()]
    return lines[-1].strip() if lines else f"exit status {result.returncode}"


def acquire(place: str, address: str) -> None:
    result = _run(address, place, "acquire")
    if result.returncode != 0:
        text = _message(result)
        if "already acquired" in text or "You have already" in text:
            raise PlaceBusy(f"labgrid place {place} is busy: {text}", hint="wait for it or pick another place")
        raise LinkError(f"labgrid place {place} (coordinator {address}) could not be acquired: {text}",
                        hint="labgrid-client places lists the places; is the coordinator running?")


def release(place: str, address: str) -> None:
    """Release the place; never raises (it runs in finally blocks), complains on stderr instead."""
    try:
        result = _run(address, place, "release")
        if result.returncode != 0:
            print(f"warning: releasing labgrid place {place}: {_message(result)}", file=sys.stderr)
    except (LinkError, ToolMissingError) as err:
        print(f"warning: releasing labgrid place {place}: {err}", file=sys.stderr)


def serial_url(place: str, address: str) -> str:
    """The URL of the acquired place's NetworkSerialPort (labgrid-client env prints its resources)."""
    import yaml

    result = _run(address, place, "env")
    if result.returncode != 0:
        raise LinkError(f"labgrid place {place}: cannot list its resources: {_message(result)}")
    targets = (yaml.safe_load(result.stdout) or {}).get("targets", {})
    for spec in targets.values():
        for resource in spec.get("resources", []):
            params = resource.get("NetworkSerialPort")
            if params is None:
                continue
            host, port = params.get("host", "127.0.0.1"), params["port"]
            if params.get("protocol", "rfc2217") == "raw":
                return f"socket://{host}:{port}"
            return f"rfc2217://{host}:{port}?{RFC2217_OPTIONS}"
    raise UserError(f"labgrid place {place} has no NetworkSerialPort resource",
                    hint="export the board's UART (USBSerialPort/RawSerialPort or a NetworkSerialPort) "
                         "and add it to the place: labgrid-client -p PLACE add-match EXPORTER/GROUP/NetworkSerialPort")


@contextmanager
def acquired_place(name: str, env: str | Path | None = None) -> Iterator[str]:
    """Acquire labgrid place `name`, yield its serial URL, release it on exit (also on errors and Ctrl-C)."""
    address = coordinator_address(env)
    acquire(name, address)
    try:
        yield serial_url(name, address)
    finally:
        release(name, address)


# ---- `deploy verify --labgrid-place NAME` -----------------------------------------------------------------


def add_labgrid_arguments(parser) -> None:
    """The labgrid options of `deploy verify` (commands/verify.py calls this in register())."""
    parser.add_argument("--labgrid-place", metavar="NAME",
                        help="borrow the board from this labgrid place: acquired for the run, reached over its "
                             "NetworkSerialPort (rfc2217://), released afterwards, also on failure")
    parser.add_argument("--labgrid-env", metavar="ENV.yaml",
                        help="labgrid environment naming the coordinator (default: $LG_ENV; else $LG_COORDINATOR "
                             f"or {DEFAULT_COORDINATOR})")


def run_on_labgrid_place(args, verify_on) -> int:
    """`deploy verify` on a labgrid place: `verify_on(url, board, model, args, firmware=...)` inside the
    acquisition.  The place must already run the firmware of --model (verify checks the model hash)."""
    from tinydeploy.boards import get_board

    board = get_board(args.board)
    if not getattr(args, "model", None):
        raise UserError("--labgrid-place needs --model: the .tflite the place's firmware was built from")
    firmware = Path(args.firmware) if getattr(args, "firmware", None) else None
    env = getattr(args, "labgrid_env", None) or os.environ.get("LG_ENV")
    with acquired_place(args.labgrid_place, env) as url:
        verify_on(url, board, Path(args.model), args, firmware=firmware)
    return 0
