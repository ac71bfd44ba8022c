"""Process faults (issue 16): SIGTERM mid-run, a board used by two processes, a dead or zombie device.

    * SIGTERM to `deploy verify` / `deploy run` ends it like a Ctrl-C: one line, 128 + 15, the partial
      report on disk, and no process of ours left running;
    * a second user of a board gets "board busy: <board> is used by pid N (deploy verify ...)", and the
      lock goes with its holder, also when that is SIGKILLed;
    * a background session whose process is dead, a zombie, or whose pid was reused counts as gone.

Fast: the real harness with the fake runtime (tests/fixtures/harness) as the device, the host TFLM
reference on a RESHAPE model, and one `deploy run --board native` of that model (cached build).
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tinydeploy import cli, procs
from tinydeploy.boards import get_board
from tinydeploy.flash.lock import BoardBusy, board_lock, holder, lock_path
from tinydeploy.link import protocol as P
from tinydeploy.link.transport import open_transport
from tinydeploy.model.graph import load_model

FIXTURES = Path(__file__).parent / "fixtures" / "harness"
sys.path.insert(0, str(FIXTURES))
from fakedev import FakeDevice, FakeModel, FakeTensor, build, build_for_board  # noqa: E402

MODEL = FIXTURES / "reshape_int8.tflite"  # output == input: the identity fake runtime is exact


def fake_model() -> FakeModel:
    graph = load_model(MODEL)

    def spec(t):
        return FakeTensor(t.shape, t.dtype, float(t.quant.scale[0]), int(t.quant.zero_point[0]))

    return FakeModel([spec(t) for t in graph.input_tensors], [spec(t) for t in graph.output_tensors],
                     sha256=graph.sha256, identity=True)


@pytest.fixture(scope="module")
def device_exe(tmp_path_factory) -> Path:
    return build(fake_model(), tmp_path_factory.mktemp("fakedev"))


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """A private project cache: sessions and locks of this test only (inherited by the subprocesses)."""
    path = tmp_path / "cache"
    monkeypatch.setenv("TINYDEPLOY_CACHE", str(path))
    return path


@pytest.fixture
def inputs(tmp_path) -> Path:
    path = tmp_path / "x.npy"
    np.save(path, np.random.default_rng(5).uniform(-1, 1, (40, 32, 32)).astype(np.float32))
    return path


class HoldingProxy:
    """A socket:// URL in front of a device: forwards both ways until `completed` inferences are done,
    then holds every later device frame back, so the host waits in the middle of its run for as long as
    the test likes (no timing guesswork)."""

    def __init__(self, device_url: str, completed: int) -> None:
        self._device_url, self._completed = device_url, completed
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"socket://127.0.0.1:{self._server.getsockname()[1]}"
        self.holding = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        conn, _ = self._server.accept()
        device = open_transport(self._device_url)
        splitter, results = P.FrameSplitter(), 0
        with conn:
            while not self._stop.is_set():
                ready, _, _ = select.select([conn], [], [], 0.005)
                if ready:
                    data = conn.recv(65536)
                    if not data:
                        break
                    device.write(data)
                for encoded in splitter.feed(device.read(0.005)):
                    if P.decode_frame(encoded).type == P.RESULT:
                        results += 1
                    if results > self._completed:  # the next inference never completes
                        self.holding.set()
                        continue
                    conn.sendall(encoded + b"\x00")
        device.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._server.close()


# A parent for the command under test that adopts its orphans (PR_SET_CHILD_SUBREAPER), so that after the
# command exits we can see whether any process it started is still running.  Prints the command's pid,
# then {"status", "left"} once it has exited.
LAUNCHER = textwrap.dedent(r"""
    import ctypes, json, os, signal, subprocess, sys, time
    ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)
    with open(sys.argv[1], "wb") as out, open(sys.argv[2], "wb") as err:
        child = subprocess.Popen(sys.argv[3:], stdout=out, stderr=err)
        print(child.pid, flush=True)
        status = child.wait()
    time.sleep(0.5)
    left = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = open(f"/proc/{pid}/stat").read()
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()
        if fields[1] == str(os.getpid()):
            if fields[0] != "Z":
                left.append(stat.rpartition(")")[0] + ")")
                os.kill(int(pid), signal.SIGKILL)
            os.waitpid(int(pid), 0)
    print(json.dumps({"status": status, "left": left}), flush=True)
""")


class Launched:
    """`deploy ARGS` in a subprocess under LAUNCHER."""

    def __init__(self, tmp_path: Path, args: list[str]) -> None:
        self.out, self.err = tmp_path / "deploy.out", tmp_path / "deploy.err"
        self.proc = subprocess.Popen([sys.executable, "-c", LAUNCHER, str(self.out), str(self.err),
                                      sys.executable, "-m", "tinydeploy.cli", *args],
                                     stdout=subprocess.PIPE, text=True)
        self.pid = int(self.proc.stdout.readline())

    def finish(self, timeout: float = 60) -> dict:
        line = self.proc.stdout.readline() if _readable(self.proc.stdout, timeout) else ""
        self.proc.wait(10)
        assert line, f"deploy did not exit within {timeout} s; stderr: {self.stderr}"
        return json.loads(line)

    @property
    def stderr(self) -> str:
        return self.err.read_text(errors="replace") if self.err.exists() else ""

    def kill(self) -> None:
        for pid in (self.pid, self.proc.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _readable(stream, timeout: float) -> bool:
    return bool(select.select([stream], [], [], timeout)[0])


def _children(pid: int) -> list[str]:
    """The commands of the live processes whose parent is `pid`."""
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()
        if fields[1] == str(pid) and fields[0] != "Z":
            found.append(stat[stat.index("(") + 1 : stat.rindex(")")])
    return found


def _firmware_running(pid: int) -> bool:
    return any(name.startswith("firmware") for name in _children(pid))  # the native build's firmware.elf


def _state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return None


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


# -- SIGTERM -----------------------------------------------------------------------------------------


def test_sigterm_mid_verify_keeps_the_partial_report_and_a_second_verify_is_told_busy(
        device_exe, inputs, tmp_path, cache, capsys):
    report = tmp_path / "r.json"
    with FakeDevice(device_exe) as dev:
        proxy = HoldingProxy(dev.url, completed=3)
        args = ["verify", "--board", "native", "--port", proxy.url, "--model", str(MODEL), "--inputs", str(inputs),
                "--no-litert", "--timeout", "30", "--report", str(report)]
        run = Launched(tmp_path, args)
        try:
            assert proxy.holding.wait(90), run.stderr
            # The board is in use: a second verify on it says so, naming the first (no link traffic).
            assert cli.main(args[:-1] + [str(tmp_path / "second.json")]) == 2
            err = capsys.readouterr().err
            assert f"board busy: native is used by pid {run.pid} (deploy verify --board native" in err
            os.kill(run.pid, signal.SIGTERM)
            result = run.finish(timeout=30)
        finally:
            run.kill()
            proxy.close()
    assert result["status"] == 128 + signal.SIGTERM, run.stderr
    assert run.stderr.strip().splitlines()[-1] == "terminated (SIGTERM) (partial results were kept)"
    assert "Traceback" not in run.stderr
    data = json.loads(report.read_text())
    assert data["complete"] is False and data["n_inputs"] == 3 and data["interrupted"] == "terminated (SIGTERM)"
    assert result["left"] == []
    assert holder(proxy.url) is None  # the lock went with its holder


def test_sigterm_mid_run_on_native_stops_the_firmware_process(tmp_path, inputs):
    many = tmp_path / "many.npy"
    np.save(many, np.repeat(np.load(inputs), 100, axis=0))  # 4,000 inferences: long enough to interrupt
    report = tmp_path / "run.json"
    run = Launched(tmp_path, ["run", str(MODEL), "--board", "native", "--inputs", str(many), "--no-litert",
                              "--report", str(report)])
    try:
        # The native firmware is deploy's child while the run lasts; end deploy while it is there.
        _wait_for(lambda: _firmware_running(run.pid) or run.proc.poll() is not None, 300,
                  "the native firmware to start")
        assert _firmware_running(run.pid), run.stderr
        time.sleep(1.0)
        os.kill(run.pid, signal.SIGTERM)
        result = run.finish(timeout=30)
    finally:
        run.kill()
    assert result["status"] == 128 + signal.SIGTERM, run.stderr
    assert run.stderr.strip().splitlines()[-1].startswith("terminated (SIGTERM)")
    assert "Traceback" not in run.stderr
    assert result["left"] == []  # the firmware process (and anything else deploy started) is gone
    if report.exists():  # interrupted while streaming: what was measured is kept
        assert json.loads(report.read_text())["complete"] is False


def test_sigterm_is_raised_as_terminated_and_children_are_stopped_on_the_way_out():
    with pytest.raises(procs.Terminated) as err, procs.signals_as_interrupts():
        child = procs.spawn_group(["sleep", "30"])
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises before this ends
    assert isinstance(err.value, KeyboardInterrupt) and err.value.exit_status == 143
    assert str(err.value) == "terminated (SIGTERM)"
    assert procs.stop_all() == 1 and child.poll() is not None and not procs.live_groups()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL or callable(signal.getsignal(signal.SIGTERM))


# -- board busy --------------------------------------------------------------------------------------


HOLD = textwrap.dedent("""
    import sys, time
    from tinydeploy.flash.lock import board_lock, describe_command
    describe_command(["deploy", "verify", "--board", sys.argv[1]])
    with board_lock(sys.argv[1], sys.argv[2]):
        print("held", flush=True)
        time.sleep(60)
""")


def hold_in_subprocess(board: str, url: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, board, url], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_lock_names_its_holder_and_dies_with_it_even_on_sigkill(cache, tmp_path):
    url = "/dev/null"  # any device path: the lock is per device, resolved through symlinks
    (tmp_path / "alias").symlink_to(url)
    holder_proc = hold_in_subprocess("nano33", url)
    try:
        with pytest.raises(BoardBusy, match=rf"board busy: nano33 is used by pid {holder_proc.pid} "
                                            r"\(deploy verify --board nano33\)"):
            with board_lock("nano33", str(tmp_path / "alias")):
                pass
    finally:
        holder_proc.kill()
        holder_proc.wait()
    assert holder(url) is None
    with board_lock("nano33", url), board_lock("nano33", url):  # free again; nesting in one process is fine
        assert holder(url)["pid"] == os.getpid()
    assert holder(url) is None and not lock_path(url).exists()  # a clean release leaves no file behind


# -- background sessions: busy, dead, zombie -----------------------------------------------------------


@pytest.fixture(scope="module")
def native_fw(tmp_path_factory):
    """A BuiltFirmware for the native board made of the harness + fake runtime (no PlatformIO)."""
    from tinydeploy.build.pio import BuildResult
    from tinydeploy.pipeline import BuiltFirmware

    out = tmp_path_factory.mktemp("native")
    elf = build_for_board(fake_model(), "native", out)
    build_result = BuildResult(project_dir=out, env="native", elf=elf, bin=None, flash_bytes=0, ram_bytes=0,
                               log=out / "build.log")
    return BuiltFirmware(board=get_board("native"), runtime="aot", model_path=MODEL,
                         model_sha256=load_model(MODEL).sha256, project_dir=out, build=build_result)


def test_a_session_in_use_is_busy_for_verify_and_for_a_new_flash(native_fw, cache, inputs, capsys):
    from tinydeploy import pipeline

    session = pipeline.start_detached(native_fw)
    try:
        user = hold_in_subprocess("native", session["url"])
        try:
            assert cli.main(["verify", "--board", "native", "--inputs", str(inputs), "-n", "2", "--no-litert"]) == 2
            assert f"board busy: native is used by pid {user.pid}" in capsys.readouterr().err
            with pytest.raises(BoardBusy):
                pipeline.start_detached(native_fw)  # would pull the firmware away from under the verify
        finally:
            user.kill()
            user.wait()
        assert cli.main(["verify", "--board", "native", "--inputs", str(inputs), "-n", "2", "--no-litert"]) == 0
    finally:
        pipeline.stop_session(native_fw.board)


def test_a_zombie_session_counts_as_gone_and_is_reaped(native_fw, cache, capsys):
    from tinydeploy import pipeline

    session = pipeline.start_detached(native_fw)
    pid = session["pid"]
    os.kill(pid, signal.SIGKILL)  # our child, never waited for: it stays a zombie
    _wait_for(lambda: _state(pid) in ("Z", None), 10, "the firmware to die")
    assert _state(pid) == "Z"
    assert cli.main(["verify", "--board", "native"]) == 2
    err = capsys.readouterr().err
    assert "no firmware is running for native: its firmware process" in err and f"pid {pid}" in err
    assert not Path(f"/proc/{pid}").exists()  # reaped
    assert pipeline.read_session(native_fw.board) is None


def test_a_dead_or_reused_session_pid_counts_as_gone(native_fw, cache):
    from tinydeploy import pipeline

    board = native_fw.board
    path = pipeline.session_file(board)
    path.parent.mkdir(parents=True, exist_ok=True)
    dead = subprocess.Popen(["true"])
    dead.wait()
    path.write_text(json.dumps({"pid": dead.pid, "url": "socket://127.0.0.1:1"}))
    session, why = pipeline.session_status(board)
    assert session is None and why.endswith("has exited") and not path.exists()
    path.write_text(json.dumps({"pid": os.getpid(), "start_time": 1, "url": "socket://127.0.0.1:1"}))
    session, why = pipeline.session_status(board)
    assert session is None and "its pid now belongs to another program" in why


def test_a_real_board_is_held_from_upload_to_verify(cache, capsys, tmp_path):
    """Two runs on one real board: the second is refused before its upload could disturb the first."""
    from tinydeploy import pipeline
    from tinydeploy.build.pio import BuildResult
    from tinydeploy.flash.lock import BOARD_PREFIX

    board = get_board("nano33")
    first = hold_in_subprocess("nano33", BOARD_PREFIX + "nano33")  # e.g. a deploy run verifying it
    try:
        fw = pipeline.BuiltFirmware(board=board, runtime="aot", model_path=MODEL, model_sha256="0" * 64,
                                    project_dir=tmp_path, build=BuildResult(
                                        project_dir=tmp_path, env="nano33", elf=tmp_path / "f.elf", bin=None,
                                        flash_bytes=0, ram_bytes=0, log=tmp_path / "log"))
        with pytest.raises(BoardBusy, match=rf"^board busy: nano33 is used by pid {first.pid} \(deploy verify"):
            pipeline.upload(fw)  # refused before PlatformIO is even started
        assert cli.main(["verify", "--board", "nano33", "--model", str(MODEL)]) == 2
        assert f"board busy: nano33 is used by pid {first.pid}" in capsys.readouterr().err
    finally:
        first.kill()
        first.wait()


@pytest.mark.qemu
def test_two_verifies_on_a_qemu_session_the_second_is_busy_the_first_keeps_its_partial_report(
        cache, tmp_path, inputs, capsys):
    """The campaign's reproducer on the emulator itself: `deploy flash --board qemu-m4` leaves QEMU serving
    (one client at a time on its UART socket); a second verify used to time out and ask whether the board
    runs tinydeploy firmware."""
    from tinydeploy import pipeline
    from tinydeploy.build.pio import BuildResult

    elf = build_for_board(fake_model(), "qemu-m4", tmp_path / "fw")
    fw = pipeline.BuiltFirmware(board=get_board("qemu-m4"), runtime="aot", model_path=MODEL,
                                model_sha256=load_model(MODEL).sha256, project_dir=tmp_path, build=BuildResult(
                                    project_dir=tmp_path, env="qemu-m4", elf=elf, bin=None, flash_bytes=0,
                                    ram_bytes=0, log=tmp_path / "log"))
    many = tmp_path / "many.npy"
    np.save(many, np.repeat(np.load(inputs), 50, axis=0))
    session = pipeline.start_detached(fw)
    try:
        report = tmp_path / "first.json"
        first = Launched(tmp_path, ["verify", "--board", "qemu-m4", "--inputs", str(many), "--no-litert",
                                    "--report", str(report)])
        try:
            _wait_for(lambda: (holder(session["url"]) or {}).get("pid") == first.pid, 60, "the first verify")
            assert cli.main(["verify", "--board", "qemu-m4", "-n", "2", "--no-litert"]) == 2
            err = capsys.readouterr().err
            assert f"board busy: qemu-m4 is used by pid {first.pid} (deploy verify --board qemu-m4" in err
            # Past its setup: the TFLM reference worker runs (then the device streams), so there is a report.
            _wait_for(lambda: _children(first.pid), 60, "the first verify's reference worker")
            os.kill(first.pid, signal.SIGTERM)
            result = first.finish(timeout=30)
        finally:
            first.kill()
        assert result["status"] == 143 and result["left"] == [], first.stderr
        assert first.stderr.strip().splitlines()[-1] == "terminated (SIGTERM) (partial results were kept)"
        assert json.loads(report.read_text())["complete"] is False
        # The session is free again and still serves: the next verify runs to the end.
        assert cli.main(["verify", "--board", "qemu-m4", "-n", "3", "--no-litert"]) == 0
    finally:
        pipeline.stop_session(fw.board)
