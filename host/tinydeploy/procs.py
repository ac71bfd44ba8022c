"""Stopping the child processes we start (QEMU, native firmware, PlatformIO, labgrid's daemons).

Every child runs in its own session (start_new_session=True), so a whole tree — a shell and its tool, pio
and its compilers — is signalled as one process group, and a Ctrl-C in the user's terminal reaches us, not
it: we decide how it ends.
"""

from __future__ import annotations

import os
import signal
import subprocess


def stop_group(proc: subprocess.Popen, grace: float = 2.0) -> None:
    """SIGTERM the child's process group, then SIGKILL it if it is still there after `grace` seconds;
    waits for the child.  Safe on a child that already exited."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        kill_group(proc)
    except ProcessLookupError:
        pass


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
