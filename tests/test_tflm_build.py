"""Building (long) TFLM projects through PlatformIO: the error summary, the progress line, the timeout, and
that PlatformIO never outlives us (timeout, Ctrl-C, SIGTERM end its whole process group)."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tinydeploy.build import pio

LOG = """\
Processing qemu-m4 (platform: tinydeploy; board: qemu-m4)
Compiling .pio/build/qemu-m4/lib8b4/tflite-micro-local/tensorflow/lite/core/api/error_reporter.o
Compiling .pio/build/qemu-m4/lib8b4/tflite-micro-local/tensorflow/lite/kernels/kernel_util.o
In file included from /tflm/src/tensorflow/lite/kernels/kernel_util.h:22,
                 from /tflm/src/tensorflow/lite/kernels/kernel_util.cpp:15:
/tflm/src/tensorflow/lite/kernels/kernel_util.cpp: In function 'int tflite::NumTemporaries(const TfLiteNode*)':
/tflm/src/tensorflow/lite/kernels/kernel_util.cpp:156:10: error: 'const TfLiteNode' has no member named 'temporaries'
  156 |   return node->temporaries->size;
      |          ^~~~~~~~~~~
Compiling .pio/build/qemu-m4/lib8b4/tflite-micro-local/tensorflow/lite/micro/kernels/cmsis_nn/conv.o
/tflm/src/tensorflow/lite/micro/kernels/cmsis_nn/conv.cpp:445:20: error: redefinition of 'TfLiteRegistration tflite::Register_CONV_2D_INT8()'
*** [.pio/build/qemu-m4/lib8b4/tflite-micro-local/tensorflow/lite/kernels/kernel_util.o] Error 1
========================== [FAILED] Took 12.34 seconds ==========================
"""

LINK_LOG = """\
Compiling .pio/build/nano33/src/td_tflm_debug_log.o
Linking .pio/build/nano33/firmware.elf
/usr/bin/ld: .pio/build/nano33/lib1a2/libArduino_TensorFlowLite.a(system_setup.cpp.o): in function `DebugLog':
system_setup.cpp:(.text.DebugLog+0x0): multiple definition of `DebugLog'; .pio/build/nano33/src/td_tflm_debug_log.o:(.text.DebugLog+0x0): first defined here
collect2: error: ld returned 1 exit status
*** [.pio/build/nano33/firmware.elf] Error 1
"""


def test_the_first_real_compiler_error_is_shown():
    summary = pio.first_error_lines(LOG)
    assert "error_reporter" not in summary
    lines = summary.splitlines()
    assert lines[0].startswith("In file included from")  # the include chain leading to it
    assert any("kernel_util.cpp:156:10: error: 'const TfLiteNode' has no member named 'temporaries'" in l
               for l in lines)
    assert "conv.cpp:445" not in summary  # the first error only


def test_linker_errors_are_shown():
    summary = pio.first_error_lines(LINK_LOG)
    assert "multiple definition of `DebugLog'" in summary and "in function `DebugLog'" in summary
    assert "Compiling" not in summary


def test_progress_line_says_what_is_compiling():
    out = io.StringIO()
    meter = pio.BuildProgress("p for qemu-m4", every=0, stream=out)
    for line in LOG.splitlines(keepends=True)[:3]:
        meter.saw(line)
    meter.tick()
    text = out.getvalue()
    assert text.startswith("building p for qemu-m4: 0m0") and "2 files compiled" in text
    assert "compiling tensorflow/lite/kernels/kernel_util.o" in text


def _group_gone(pgid: int, wait: float = 5.0) -> bool:
    """No live process (zombies awaiting a reaper do not count) is left in the group, within `wait` s."""
    deadline = time.monotonic() + wait
    while True:
        alive = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rpartition(")")[2].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
                alive.append(stat.parent.name)
        if not alive or time.monotonic() > deadline:
            return not alive
        time.sleep(0.1)


SLOW_PIO = [sys.executable, "-c", "import subprocess, time; subprocess.Popen(['sleep', '120']); time.sleep(120)"]


def test_timeout_stops_the_whole_group(monkeypatch):
    started = []
    real_spawn = pio.spawn_group

    def spawn(cmd, **kwargs):
        proc = real_spawn(SLOW_PIO, **kwargs)
        started.append(proc)
        return proc

    monkeypatch.setattr(pio, "spawn_group", spawn)
    with pytest.raises(pio.PioTimeout, match="did not finish within 1 s"):
        pio.run_pio(["run"], timeout=1)
    assert _group_gone(started[0].pid)  # pio and its child ("the compiler") alike


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_build_leaves_nothing_running(tmp_path, sig):
    """Ctrl-C (or a SIGTERM from CI) while `pio run` builds: we end, and so does pio's process group."""
    pgid_file = tmp_path / "pgid"
    # Ctrl-C's handler is set explicitly: a suite started in the background (`nohup .ci/run &`) hands its
    # children SIGINT ignored, and Python then installs no KeyboardInterrupt handler.
    script = textwrap.dedent(f"""
        import signal
        import sys
        from pathlib import Path
        from tinydeploy.build import pio
        signal.signal(signal.SIGINT, signal.default_int_handler)
        real = pio.spawn_group
        def spawn(cmd, **kw):
            proc = real({SLOW_PIO!r}, **kw)
            Path({str(pgid_file)!r}).write_text(str(proc.pid))
            return proc
        pio.spawn_group = spawn
        try:
            pio.run_pio(["run"], timeout=120)
        except KeyboardInterrupt:
            sys.exit(130)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    deadline = time.monotonic() + 30
    while not pgid_file.exists() or not pgid_file.read_text():
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.1)
    time.sleep(0.3)
    os.kill(proc.pid, sig)
    assert proc.wait(15) in (130, 128 + sig)
    assert _group_gone(int(pgid_file.read_text()))


def test_build_timeout_option_reaches_the_build(monkeypatch, tmp_path):
    from tinydeploy import pipeline
    from tinydeploy.cli import main

    seen = {}

    def fake_build(model_path, board, runtime="aot", **options):
        seen.update(options)
        raise pio.UserError("stop here")

    monkeypatch.setattr(pipeline, "build_firmware", fake_build)
    monkeypatch.setattr(pipeline, "prepare_model", lambda model, **kw: Path(model))
    model = tmp_path / "m.tflite"
    model.write_bytes(b"")
    main(["run", str(model), "--runtime", "tflm", "--build-timeout", "1234"])
    assert seen["build_timeout"] == 1234.0


def test_build_out_of_time_says_how_to_give_it_more(tmp_path):
    """The message names the option and the partial log, and does not suggest a hang."""
    from tinydeploy.boards import get_board
    from tinydeploy.commands.build import default_project

    board = get_board("qemu-m4")
    project = default_project(board)
    with pytest.raises(pio.UserError) as info:
        pio.build_project(project, board, timeout=0.05, progress=False)
    text = f"{info.value} {info.value.hint}"
    assert "did not finish within 0.05 s" in text and "--build-timeout" in text
    assert "tinydeploy-build.log" in text and "hang" not in text
