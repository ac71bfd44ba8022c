"""The pipeline's build cache: PlatformIO runs once per distinct project, also under concurrency, and
again whenever the sources or the ELF change."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tinydeploy import pipeline
from tinydeploy.boards import get_board
from tinydeploy.build.pio import BuildResult
from tinydeploy.errors import UserError


@pytest.fixture
def fake_platformio(tmp_path, monkeypatch):
    """Replace only the PlatformIO call: rendering, hashing and locking stay real."""
    builds: list[str] = []

    def build_project(project_dir: Path, board, **_):
        builds.append(board.id)
        threading.Event().wait(0.3)  # a build takes time: concurrent callers must wait, not build again
        elf = project_dir / ".pio" / "build" / board.id / "firmware.elf"
        elf.parent.mkdir(parents=True, exist_ok=True)
        elf.write_bytes(b"\x7fELF" + board.id.encode() + str(len(builds)).encode())
        log = elf.with_name("build.log")
        log.write_text("ok")
        return BuildResult(project_dir=project_dir, env=board.id, elf=elf, bin=None, flash_bytes=1,
                           ram_bytes=1, log=log)

    monkeypatch.setenv("TINYDEPLOY_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(pipeline, "build_project", build_project)
    return builds


def test_build_runs_once_per_project(fake_platformio):
    model = Path(__file__).parent / "fixtures" / "harness" / "reshape_int8.tflite"
    board = get_board("qemu-m4")
    results = []
    workers = [threading.Thread(target=lambda: results.append(pipeline.build_firmware(model, board)))
               for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert fake_platformio == ["qemu-m4"]
    assert sorted(r.built_now for r in results) == [False, False, True]
    assert len({r.build.elf for r in results}) == 1

    again = pipeline.build_firmware(model, board)
    assert not again.built_now and fake_platformio == ["qemu-m4"]

    pipeline.build_firmware(model, get_board("qemu-m33"))  # another board: another project, another build
    assert fake_platformio == ["qemu-m4", "qemu-m33"]

    again.build.elf.write_bytes(b"changed behind our back")  # never trust an ELF that is not the one built
    assert pipeline.build_firmware(model, board).built_now

    (again.project_dir / "src" / "model.c").write_text("/* edited */")  # re-rendered, so unchanged again...
    assert not pipeline.build_firmware(model, board).built_now
    (again.project_dir / "src" / "extra.c").write_text("int x;")  # ...but a new source file is a change
    assert pipeline.build_firmware(model, board).built_now


def test_unknown_runtime_is_a_user_error(fake_platformio):
    model = Path(__file__).parent / "fixtures" / "harness" / "reshape_int8.tflite"
    with pytest.raises(UserError, match="unknown runtime 'tvm'"):
        pipeline.build_firmware(model, get_board("qemu-m4"), "tvm")
