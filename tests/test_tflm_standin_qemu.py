"""`deploy run MODEL --runtime tflm --tflm-path TREE --board qemu-m4` with a stand-in of the TFLM Arduino library.

The stand-in (tests/tflm_standin.py) has the real library's layout, ARDUINO guards and board glue, so the
bare-metal build has to do what it does for the real one: -DARDUINO=100, TFLM headers without
TensorFlowLite.h, system_setup.cpp / micro_time.cpp / peripherals/ left out and replaced.  Its interpreter
reads the model's tensors and executes RESHAPE, so the run is verified against TFLM's host interpreter for
real.  Also: the compiled library is reused by the next model, and an arena too small is reported with TFLM's
own message.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tflm_standin import reshape_model, write_standin
from tinydeploy.boards import get_board
from tinydeploy.render.tflm import render_tflm

pytestmark = [pytest.mark.qemu, pytest.mark.slow]


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    pytest.importorskip("tflite_micro")
    pytest.importorskip("tensorflow")
    return reshape_model(tmp_path_factory.mktemp("models") / "reshape_int8.tflite")


@pytest.fixture()
def lib_cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.delenv("TFLM_PATH", raising=False)
    monkeypatch.setenv("TINYDEPLOY_LIB_CACHE", str(tmp_path / "lib-cache"))
    return tmp_path / "lib-cache"


@pytest.mark.parametrize("flavour", ["pinned", "head"])
def test_deploy_run_tflm_with_the_arduino_library(model, tmp_path, lib_cache, flavour):
    from tinydeploy.cli import main

    lib = write_standin(tmp_path / "Arduino_TensorFlowLite", flavour)
    report = tmp_path / "report.json"
    code = main(["run", str(model), "--runtime", "tflm", "--tflm-path", str(lib), "--board", "qemu-m4",
                 "-n", "6", "--no-litert", "--report", str(report), "--build-timeout", "300"])
    assert code == 0
    data = json.loads(report.read_text())
    assert data["runtime"] == "tflm" and data["fidelity"]["tflm"]["exact_match_rate"] == 1.0
    assert 0 < data["memory"]["arena_used_bytes"] <= data["memory"]["arena_bytes"]
    assert len(list(lib_cache.glob("*/libtflite-micro-local-cached.a"))) == 1  # kept for the next model


def test_library_is_compiled_once_across_models(model, tmp_path, lib_cache):
    """Two projects (two models, in effect) with the same tree, board and flags: the second one links the
    archive the first one compiled."""
    from tinydeploy.build.pio import build_project

    lib = write_standin(tmp_path / "lib", "pinned")
    board = get_board("qemu-m4")
    logs = []
    for name in ("first", "second"):
        rendered = render_tflm(model, board, tmp_path / name, tflm_path=lib)
        logs.append(build_project(rendered.project_dir, board, timeout=300).log.read_text())
    library_step = "Compiling .pio/build/qemu-m4/lib"  # PlatformIO builds libraries under lib<hash>/
    assert "tflite-micro-local/tensorflow/lite/micro/micro_interpreter.o" in logs[0] and library_step in logs[0]
    assert library_step not in logs[1] and "Compiling .pio/build/qemu-m4/src/tflm_runtime.o" in logs[1]
    assert "-ltflite-micro-local-cached" in (tmp_path / "second/lib/tflite-micro-local/library.json").read_text()


def test_arena_too_small_is_reported_with_tflms_message(model, tmp_path, lib_cache):
    from tinydeploy.build.pio import build_project
    from tinydeploy.errors import UserError
    from tinydeploy.flash.qemu import QemuRunner
    from tinydeploy.link.client import DeviceLink

    lib = write_standin(tmp_path / "lib", "head")
    board = get_board("qemu-m4")
    rendered = render_tflm(model, board, tmp_path / "project", tflm_path=lib, arena_bytes=16)
    build = build_project(rendered.project_dir, board, timeout=300)
    with pytest.raises(UserError) as info:
        with QemuRunner(board, build.elf, timeout=60) as run:
            with DeviceLink.open(run.url, timeout=10) as link:
                link.infer([np.zeros((1, 8), dtype=np.int8)])
    text = str(info.value)
    assert f"arena too small: need {rendered.arena.required} bytes, have 16" in text
    assert "TFLM: Arena size is too small for all buffers" in text  # DebugLog's last line, via ours
