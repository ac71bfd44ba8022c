"""The child processes we start (QEMU, native firmware, PlatformIO, ser2net, labgrid's daemons) and the
signals that end us.

Every child runs in its own session (start_new_session=True), so a whole tree — a shell and its tool, pio
and its compilers — is signalled as one process group, and a Ctrl-C in the user's terminal reaches us, not
it: we decide how it ends.  `spawn_group()` starts such a child and remembers it until it is stopped, so
that `stop_all()` (run by the CLI on the way out, also after SIGINT/SIGTERM) ends every group still running
even when the code that started it never got to its own cleanup.

SIGTERM and SIGHUP are turned into `Terminated`, a KeyboardInterrupt: they unwind exactly like a Ctrl-C
(with-blocks stop their children, a verification keeps and writes its partial report).

Liveness of a recorded pid (a background `deploy flash` session) is `pid_status()`: a zombie, a dead
process or a pid reused by another program all count as gone, and a zombie that is our own child is reaped.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

# Groups started through spawn_group() and not yet stopped (pid -> Popen).
_LIVE: dict[int, subprocess.Popen] = {}
_LIVE_LOCK = threading.Lock()


def spawn_group(cmd: list[str], **popen_kwargs: Any) -> subprocess.Popen:
    """Popen(cmd) in a new session (its own process group), remembered until `stop_group()` ends it or
    `stop_all()` does on the way out."""
    proc = subprocess.Popen(cmd, start_new_session=True, **popen_kwargs)
    with _LIVE_LOCK:
        _LIVE[proc.pid] = proc
    return proc


@contextmanager
def owned_group(proc: subprocess.Popen, grace: float = 2.0) -> Iterator[subprocess.Popen]:
    """Stop `proc`'s process group when the block ends, however it ends (error, Ctrl-C, SIGTERM):

        with owned_group(spawn_group(cmd, stdout=PIPE)) as proc:
            out, _ = proc.communicate(timeout=600)
    """
    try:
        yield proc
    finally:
        stop_group(proc, grace)


def stop_group(proc: subprocess.Popen, grace: float = 2.0) -> None:
    """SIGTERM the child's process group, then SIGKILL it if it is still there after `grace` seconds;
    waits for the child.  Safe on a child that already exited."""
    try:
        if proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            kill_group(proc)
        except ProcessLookupError:
            pass
    finally:
        _forget(proc)


def kill_group(proc: subprocess.Popen, wait: float = 5.0) -> None:
    """SIGKILL the child's process group at once and reap the child."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        proc.wait(wait)
    except subprocess.TimeoutExpired:
        pass
    if proc.poll() is not None:
        _forget(proc)


def stop_all(grace: float = 2.0) -> int:
    """Stop every group spawn_group() started that is still running; returns how many there were."""
    with _LIVE_LOCK:
        procs = list(_LIVE.values())
    stopped = 0
    for proc in procs:
        if proc.poll() is None:
            stopped += 1
        stop_group(proc, grace)
    return stopped


def live_groups() -> list[subprocess.Popen]:
    """The groups spawn_group() started that have not been stopped yet (for tests and diagnostics)."""
    with _LIVE_LOCK:
        return [p for p in _LIVE.values() if p.poll() is None]


def _forget(proc: subprocess.Popen) -> None:
    with _LIVE_LOCK:
        if _LIVE.get(proc.pid) is proc:
            del _LIVE[proc.pid]


# -- signals -----------------------------------------------------------------------------------------


class Terminated(KeyboardInterrupt):
    """SIGTERM/SIGHUP raised in the main thread: unwinds like Ctrl-C, exits with 128 + the signal."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"terminated ({signal.Signals(signum).name})")

    @property
    def exit_status(self) -> int:
        return 128 + self.signum


INTERRUPT_STATUS = 128 + signal.SIGINT  # 130: what a shell reports for a Ctrl-C'd command
_ENDING_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


_terminating = False  # a first SIGTERM/SIGHUP was raised: later ones must not cut the unwinding short
_depth = 0


def _raise_terminated(signum: int, _frame: object) -> None:
    # A second signal while we unwind (stopping children, writing the partial report) is ignored: that
    # work is bounded anyway (stop_group's grace, then SIGKILL).
    global _terminating
    if _terminating:
        return
    _terminating = True
    raise Terminated(signum)


@contextmanager
def signals_as_interrupts() -> Iterator[None]:
    """While the block runs, SIGTERM and SIGHUP raise `Terminated` in the main thread (a no-op elsewhere);
    the previous handlers come back afterwards.  Blocks may nest."""
    global _depth, _terminating
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _raise_terminated) for sig in _ENDING_SIGNALS}
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if _depth == 0:
            _terminating = False


# -- recorded pids -----------------------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat split after the command name (which may hold spaces): [state, ppid, ...]."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rpartition(")")[2].split()


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat): with the pid, it
    names one process, not whichever later reuses the number."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields and len(fields) > 19 else None


def pid_status(pid: int, started: int | None = None) -> str | None:
    """None while `pid` is a live process (the one that started at `started`, when given), else why not:
    "has exited", "is defunct (a zombie)" or "was reused by another program".  A zombie that is our own
    child is reaped."""
    if pid <= 0:
        return "has no valid pid"
    fields = _stat_fields(pid)
    if fields is None:
        return "has exited"
    if fields[0] in ("Z", "X"):
        _reap(pid)
        return "is defunct (a zombie): it exited and nobody reaped it"
    if started is not None and start_time(pid) != started:
        return "has exited (its pid now belongs to another program)"
    return None


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:  # not our child: its parent reaps it
        pass
