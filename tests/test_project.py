"""write_project: a PlatformIO project for a board around a runtime's files; the platformio.ini read back
matches the board file; rewriting keeps mtimes; the project builds with the real compiler."""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path

import pytest

from tinydeploy.boards import get_board
from tinydeploy.build.pio import build_project
from tinydeploy.errors import UserError
from tinydeploy.paths import firmware_dir
from tinydeploy.render.project import GeneratedFile, ProjectSpec, render_platformio_ini, write_project

# A one-tensor identity "model" implementing td_runtime.h, so the harness links without a real runtime.
STUB_RUNTIME = r"""
#include <string.h>
#include "td_runtime.h"
static int8_t buffer[4];
static const td_tensor_spec spec = {TD_INT8, 2, {1, 4}, 0.5f, 0, 4};
static const uint8_t sha[32];
int td_runtime_init(void) { return 0; }
const char *td_runtime_error(void) { return ""; }
const char *td_runtime_name(void) { return "stub"; }
#ifdef TD_MODEL_NAME
const char *stub_model_name = TD_MODEL_NAME; /* a string define must survive platformio.ini quoting */
#endif
const uint8_t *td_model_sha256(void) { return sha; }
uint32_t td_arena_bytes(void) { return sizeof buffer; }
uint32_t td_arena_used_bytes(void) { return sizeof buffer; }
int td_input_count(void) { return 1; }
int td_output_count(void) { return 1; }
const td_tensor_spec *td_input_spec(int i) { return i == 0 ? &spec : 0; }
const td_tensor_spec *td_output_spec(int i) { return i == 0 ? &spec : 0; }
void *td_input_data(int i) { return i == 0 ? buffer : 0; }
const void *td_output_data(int i) { return i == 0 ? buffer : 0; }
int td_runtime_invoke(void) { return 0; }
"""


def _spec(board_id: str = "qemu-m4", **overrides) -> ProjectSpec:
    fields = dict(
        board=get_board(board_id),
        runtime="aot",
        files=[GeneratedFile("runtime/stub_runtime.c", content=STUB_RUNTIME),
               GeneratedFile("runtime/model_info.h", content="#define MODEL_INFO 1\n")],
        include_dirs=["runtime"],
        defines={"TD_MODEL_NAME": '"tiny model"', "TD_HAS_MODEL": ""},
        model_sha256="ab" * 32,
    )
    fields.update(overrides)
    return ProjectSpec(**fields)


def _env_section(project: Path, env: str) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(project / "platformio.ini", encoding="utf-8")
    assert parser["platformio"]["default_envs"] == env
    return parser[f"env:{env}"]


def _flags(section: configparser.SectionProxy) -> list[str]:
    return [flag for line in section.get("build_flags", "").splitlines() for flag in shlex.split(line)]


def test_round_trip_emulated_board(tmp_path: Path) -> None:
    board = get_board("qemu-m4")
    project = write_project(_spec(), tmp_path / "proj")
    env = _env_section(project, board.id)
    assert env["platform"] == "tinydeploy" == board.platformio.platform
    assert env["board"] == board.platformio.board
    assert env["upload_protocol"] == board.platformio.upload_protocol
    assert int(env["monitor_speed"]) == board.serial.baud
    assert env["custom_tinydeploy_board"] == board.id and env["custom_tinydeploy_runtime"] == "aot"
    assert env["custom_tinydeploy_model_sha256"] == "ab" * 32
    assert "framework" not in env
    flags = _flags(env)
    assert "-DTD_MODEL_NAME=\"tiny model\"" in flags and "-DTD_HAS_MODEL" in flags
    assert ["-I", "src/runtime"] == flags[flags.index("src/runtime") - 1: flags.index("src/runtime") + 1]

    # runtime files, the harness, the board's platform code and the shared headers are all there
    assert (project / "src/runtime/stub_runtime.c").is_file()
    for header in (firmware_dir() / "include").glob("*.h"):
        assert (project / "include" / header.name).read_bytes() == header.read_bytes()
    for source in (firmware_dir() / "harness").glob("*.[ch]"):
        assert (project / "src/harness" / source.name).is_file()
    for source in (firmware_dir() / "platform" / board.firmware_platform).glob("*.[ch]"):
        assert (project / "src/platform" / source.name).is_file()


def test_rewrite_keeps_mtimes_and_drops_stale_files(tmp_path: Path) -> None:
    project = write_project(_spec(), tmp_path / "proj")
    files = [p for p in project.rglob("*") if p.is_file()]
    mtimes = {p: p.stat().st_mtime_ns for p in files}
    write_project(_spec(), project)
    assert mtimes == {p: p.stat().st_mtime_ns for p in files}

    user_file = project / "notes.txt"
    user_file.write_text("mine")
    changed = _spec(files=[GeneratedFile("runtime/stub_runtime.c", content=STUB_RUNTIME + "\n/* v2 */\n")])
    write_project(changed, project)
    assert not (project / "src/runtime/model_info.h").exists()  # left the spec: removed
    assert user_file.read_text() == "mine"  # never written by us: kept
    assert (project / "src/runtime/stub_runtime.c").stat().st_mtime_ns != mtimes[project / "src/runtime/stub_runtime.c"]
    assert (project / "include/td_platform.h").stat().st_mtime_ns == mtimes[project / "include/td_platform.h"]


def test_real_board_is_a_standard_arduino_project() -> None:
    board = get_board("nano33")
    text = render_platformio_ini(_spec("nano33", runtime="tflm", lib_deps=["tflite-micro"]))
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    env = parser["env:nano33"]
    assert (env["platform"], env["board"], env["framework"]) == ("nordicnrf52", "nano33ble", "arduino")
    assert env["upload_protocol"] == board.platformio.upload_protocol
    assert env["lib_deps"].split() == ["tflite-micro"]
    flags = _flags(env)
    assert '-DTD_BOARD_ID="nano33"' in flags  # upstream platforms get the board defines from the ini
    assert f"-DTD_CLOCK_HZ={board.clock_hz}u" in flags


def test_missing_platform_directory_is_a_user_error(tmp_path: Path) -> None:
    board = get_board("qemu-m4")
    from dataclasses import replace

    broken = replace(board, firmware_platform="no_such_family")
    with pytest.raises(UserError, match="no_such_family"):
        write_project(_spec(board=broken), tmp_path / "proj")


# C++ with a static constructor, as the TFLM runtime has: links on bare metal (no crtbegin.o there).
CXX_PROBE = """#include <vector>
struct Init { Init() { v.push_back(1); } std::vector<int> v; };
static Init init;
extern "C" int cxx_probe(void) { return (int)init.v.size(); }
"""


def test_rendered_project_builds(tmp_path: Path) -> None:
    board = get_board("qemu-m33")
    files = [*_spec().files, GeneratedFile("runtime/probe.cpp", content=CXX_PROBE)]
    project = write_project(_spec("qemu-m33", files=files), tmp_path / "proj")
    result = build_project(project, board, timeout=300)
    assert result.elf.is_file() and result.bin is not None and result.bin.suffix == ".bin"
    assert 1000 < result.flash_bytes < board.flash_bytes and result.ram_bytes > 0


def test_compile_error_is_a_one_message_user_error(tmp_path: Path) -> None:
    board = get_board("qemu-m4")
    bad = _spec(files=[GeneratedFile("runtime/stub_runtime.c", content=STUB_RUNTIME + "\nint broken(void) { return nope; }\n")])
    project = write_project(bad, tmp_path / "proj")
    with pytest.raises(UserError) as err:
        build_project(project, board, timeout=300)
    message = str(err.value)
    assert "stub_runtime.c" in message and "nope" in message and "full log" in message
