"""The nano33 tflm project against a stand-in of the TFLM Arduino library (tests/tflm_standin.py): compiled and
linked for the Cortex-M4 with the Nano 33 BLE's defines, as PlatformIO would build it with the upstream platform.

The upstream nordicnrf52 platform and its Mbed core are not installed here, so Debian's arm-none-eabi-g++
builds the rendered project directly: platformio.ini's build_flags, the generated library.json's flags and
srcFilter, and a minimal Arduino.h stand-in (tests/fixtures/tflm_standin/arduino_core/).  What it proves: the
library's own DebugLog (system_setup.cpp on the Nano 33 BLE) and ours never both exist (no "multiple
definition of 'DebugLog'"), TensorFlowLite.h's peripherals/ compile on the board, and every symbol links.
The negative checks show the stand-in would have caught the defects of issue 14.
"""

from __future__ import annotations

import fnmatch
import json
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from tflm_standin import arduino_core_dir, log_softmax_model, reshape_model, write_standin
from tinydeploy.boards import get_board
from tinydeploy.errors import UserError
from tinydeploy.render.tflm import LOCAL_LIB_DIR, Templates, render_tflm

ARM_GXX = shutil.which("arm-none-eabi-g++")
pytestmark = pytest.mark.skipif(ARM_GXX is None, reason="arm-none-eabi-g++ is not installed")

CPU_FLAGS = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]
# What the Arduino Mbed core passes for the Nano 33 BLE (besides the CPU flags): the framework and the board.
NANO33_DEFINES = ["-DARDUINO=10819", "-DARDUINO_ARCH_MBED"]


@pytest.fixture(autouse=True)
def private_lib_cache(tmp_path, monkeypatch) -> None:
    """Renders must not see (or fill) the user's library cache."""
    monkeypatch.setenv("TINYDEPLOY_LIB_CACHE", str(tmp_path / "lib-cache"))


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    pytest.importorskip("tflite_micro")
    pytest.importorskip("tensorflow")
    out = tmp_path_factory.mktemp("models")
    return {"reshape": reshape_model(out / "reshape_int8.tflite"),
            "log_softmax": log_softmax_model(out / "log_softmax.tflite")}


def _filtered(root: Path, src_filter: list[str]) -> list[Path]:
    """The library's C/C++ sources as PlatformIO's srcFilter selects them (the subset of the syntax we emit)."""
    def matches(rel: str, pattern: str) -> bool:
        if pattern == "*":
            return True
        if pattern.endswith("/"):
            return rel.startswith(pattern) or ("/" + pattern[3:] in "/" + rel if pattern.startswith("**/") else False)
        return fnmatch.fnmatch(rel, pattern) or fnmatch.fnmatch(Path(rel).name, pattern.removeprefix("**/"))

    chosen = []
    for path in sorted(root.rglob("*")):
        if path.suffix not in (".c", ".cc", ".cpp"):
            continue
        rel, keep = path.relative_to(root).as_posix(), False
        for entry in src_filter:
            if matches(rel, entry[2:-1]):
                keep = entry.startswith("+")
        if keep:
            chosen.append(path)
    return chosen


def _ini_flags(project: Path) -> list[str]:
    lines = (project / "platformio.ini").read_text().split("build_flags =", 1)[1].splitlines()[1:]
    flags: list[str] = []
    for line in lines:
        if not line.startswith("    "):
            break
        line = line.strip()
        if line.startswith("-I "):  # one include directory per line, relative to the project or absolute
            flags.append(f"-I{project / line[3:]}")
        else:
            flags.extend(shlex.split(line))
    return flags


def _compile(src: Path, out: Path, flags: list[str]) -> subprocess.CompletedProcess:
    compiler = "arm-none-eabi-gcc" if src.suffix == ".c" else ARM_GXX
    lang = ["-std=gnu11"] if src.suffix == ".c" else ["-std=gnu++17", "-fno-rtti", "-fno-exceptions"]
    argv = [compiler, *CPU_FLAGS, "-Os", "-ffunction-sections", "-fdata-sections", *lang, *flags,
            "-c", str(src), "-o", str(out)]
    return subprocess.run(argv, capture_output=True, text=True)


def build_nano33(project: Path, out: Path, extra_sources: tuple[Path, ...] = ()) -> subprocess.CompletedProcess:
    """Compile the rendered nano33 project (sketch, harness, local library, stand-in core) and link it;
    returns the link's result (compile failures fail the test at once)."""
    manifest = json.loads((project / LOCAL_LIB_DIR / "library.json").read_text())
    root = Path(manifest["build"]["srcDir"])
    core = arduino_core_dir()
    common = [*NANO33_DEFINES, *(f"-D{m}" for m in get_board("nano33").platformio.board_macros), f"-I{core}",
              *_ini_flags(project), f"-I{project / 'include'}"]
    lib_flags = [f for f in manifest["build"]["flags"] if not f.startswith(("-L", "-l"))]
    link_flags = [f for f in manifest["build"]["flags"] if f.startswith(("-L", "-l"))]  # a cached archive
    units = [(src, common + lib_flags) for src in _filtered(root, manifest["build"]["srcFilter"])]
    units += [(src, common) for src in sorted((project / "src").rglob("*")) if src.suffix in (".c", ".cc", ".cpp")]
    units += [(core / "arduino_core.cpp", common), *((src, common) for src in extra_sources)]
    out.mkdir(parents=True, exist_ok=True)
    objects = []
    for i, (src, flags) in enumerate(units):
        obj = out / f"{i:03d}_{src.stem}.o"
        result = _compile(src, obj, flags)
        assert result.returncode == 0, f"{src}:\n{result.stderr}"
        objects.append(str(obj))
    return subprocess.run([ARM_GXX, *CPU_FLAGS, "--specs=nano.specs", "--specs=nosys.specs", "-Wl,--gc-sections",
                           *objects, *link_flags, "-o", str(out / "firmware.elf")], capture_output=True, text=True)


@pytest.mark.parametrize("flavour", ["pinned", "head"])
def test_nano33_project_links_against_the_arduino_library(models, tmp_path, monkeypatch, flavour):
    monkeypatch.delenv("TFLM_PATH", raising=False)
    lib = write_standin(tmp_path / "Arduino_TensorFlowLite", flavour)
    render_tflm(models["reshape"], get_board("nano33"), tmp_path / "project", tflm_path=lib)
    src = tmp_path / "project" / "src"
    assert not (src / "td_tflm_debug_log.cc").exists()  # system_setup.cpp defines DebugLog on the Nano 33 BLE
    assert "#include <TensorFlowLite.h>" in (src / "tflm_runtime.cc").read_text()

    linked = build_nano33(tmp_path / "project", tmp_path / "obj")
    assert linked.returncode == 0, linked.stderr
    symbols = subprocess.run(["arm-none-eabi-nm", "-C", str(tmp_path / "obj/firmware.elf")], capture_output=True,
                             text=True, check=True).stdout
    assert " T DebugLog" in symbols and " T td_runtime_init" in symbols and " T setup" in symbols

    # The defect this guards against: a DebugLog of ours next to the library's does not link.
    ours = tmp_path / "td_tflm_debug_log.cc"
    ours.write_text(Templates(None).render("td_tflm_debug_log.cc.j2", va_list=False, vsnprintf=False))
    clash = build_nano33(tmp_path / "project", tmp_path / "obj-clash", extra_sources=(ours,))
    assert clash.returncode != 0 and "multiple definition of `DebugLog'" in clash.stderr


def test_standin_has_the_real_librarys_traps(tmp_path):
    """Built off Arduino the way the first tflm runtime did (no ARDUINO, TensorFlowLite.h included), the
    stand-in fails exactly as the real library does."""
    src = write_standin(tmp_path / "lib", "pinned") / "src"
    flags = [f"-I{src}", "-DTF_LITE_STATIC_MEMORY", "-DCMSIS_NN"]
    kernel_util = _compile(src / "tensorflow/lite/kernels/kernel_util.cpp", tmp_path / "k.o", flags)
    assert "has no member named 'temporaries'" in kernel_util.stderr
    conv = _compile(src / "tensorflow/lite/micro/kernels/cmsis_nn/conv.cpp", tmp_path / "c.o", flags)
    assert "redefinition of" in conv.stderr and "Register_CONV_2D_INT8" in conv.stderr
    umbrella = tmp_path / "umbrella.cc"
    umbrella.write_text("#include <TensorFlowLite.h>\n")
    assert "unsupported framework" in _compile(umbrella, tmp_path / "u.o", flags).stderr
    # ... and with -DARDUINO=100 the two sources compile.
    for name in ("tensorflow/lite/kernels/kernel_util.cpp", "tensorflow/lite/micro/kernels/cmsis_nn/conv.cpp"):
        assert _compile(src / name, tmp_path / "ok.o", [*flags, "-DARDUINO=100"]).returncode == 0


def test_resolver_methods_follow_the_library(models, tmp_path, monkeypatch):
    """LOG_SOFTMAX has no AddLogSoftmax() at the pinned commit: read from a local tree's header, recorded for
    the fetched pinned ref; a tree (or ref) that has it renders."""
    monkeypatch.delenv("TFLM_PATH", raising=False)
    pinned = write_standin(tmp_path / "pinned", "pinned")
    with pytest.raises(UserError, match=r"cannot register LOG_SOFTMAX \(MicroMutableOpResolver::AddLogSoftmax\(\)\)"):
        render_tflm(models["log_softmax"], get_board("qemu-m4"), tmp_path / "p1", tflm_path=pinned)
    with pytest.raises(UserError, match="TFLM Arduino library at 0b8e7c15c7e5 cannot register LOG_SOFTMAX"):
        render_tflm(models["log_softmax"], get_board("nano33"), tmp_path / "p2")
    head = write_standin(tmp_path / "head", "head")
    result = render_tflm(models["log_softmax"], get_board("qemu-m4"), tmp_path / "p3", tflm_path=head)
    assert [op.method for op in result.ops] == ["AddLogSoftmax"]
    render_tflm(models["log_softmax"], get_board("nano33"), tmp_path / "p4", tflm_ref="7948b85e")


def test_fetched_library_debug_log_per_board(models, tmp_path, monkeypatch):
    """The pinned library (lib_deps) defines DebugLog on the Nano 33 BLE only: other Arduino boards get ours."""
    monkeypatch.delenv("TFLM_PATH", raising=False)
    render_tflm(models["reshape"], get_board("nano33"), tmp_path / "nano33")
    assert not (tmp_path / "nano33/src/td_tflm_debug_log.cc").exists()
    render_tflm(models["reshape"], get_board("pico"), tmp_path / "pico")
    log = (tmp_path / "pico/src/td_tflm_debug_log.cc").read_text()
    assert "DebugLog(const char *s)" in log  # the pinned debug_log.h's signature


def test_fetched_library_is_kept_and_linked_by_the_next_model(models, tmp_path, monkeypatch):
    """lib_deps on a real board: after the first build the fetched library and its archive are kept, and the
    next model's project links that archive instead of fetching and compiling the library again."""
    from tinydeploy.build import libcache

    monkeypatch.delenv("TFLM_PATH", raising=False)
    monkeypatch.setenv("TINYDEPLOY_LIB_CACHE", str(tmp_path / "lib-cache"))
    board = get_board("nano33")
    first = render_tflm(models["reshape"], board, tmp_path / "first")
    assert first.lib_deps[0].endswith("#0b8e7c15c7e50811121825817a88f023a575f46a")
    # What `pio run` does for the first model: fetch the library into .pio/libdeps/, build it as an archive.
    fetched = write_standin(tmp_path / "first/.pio/libdeps/nano33/Arduino_TensorFlowLite", "pinned")
    build_dir = tmp_path / "first/.pio/build/nano33"
    objects = []
    flags = [*NANO33_DEFINES, "-DARDUINO_ARDUINO_NANO33BLE", f"-I{arduino_core_dir()}", f"-I{fetched / 'src'}",
             "-DTF_LITE_STATIC_MEMORY"]
    for i, src in enumerate(_filtered(fetched / "src", ["+<*>"])):
        obj = tmp_path / f"lib{i:02d}.o"
        assert _compile(src, obj, flags).returncode == 0
        objects.append(str(obj))
    (build_dir / "lib1a2").mkdir(parents=True)
    subprocess.run(["arm-none-eabi-ar", "rcs", str(build_dir / "lib1a2/libArduino_TensorFlowLite.a"), *objects],
                   check=True)
    assert libcache.after_build(tmp_path / "first", build_dir)

    second = render_tflm(models["reshape"], board, tmp_path / "second")
    assert second.lib_deps == ["tflite-micro-local"] and "lib-cache" in str(second.tree.root)
    assert libcache.before_build(tmp_path / "second") == ["tflite-micro-local"]
    assert not (tmp_path / "second/src/td_tflm_debug_log.cc").exists()  # still the library's, on the Nano 33
    linked = build_nano33(tmp_path / "second", tmp_path / "obj")
    assert linked.returncode == 0, linked.stderr


def test_stateful_and_control_flow_models_register_every_subgraph_and_link(tmp_path, monkeypatch):
    """A tf.Variable model (CALL_ONCE + VAR_HANDLE/READ/ASSIGN) gets MicroResourceVariables created from the
    interpreter's allocator; a WHILE model registers the ops of its cond and body subgraphs, not only WHILE
    (TFLM resolves every subgraph's ops through the one resolver).  Both compile and link for nano33."""
    pytest.importorskip("tflite_micro")
    from test_aot_ops_control_flow import _loop_module
    from test_aot_ops_variables import _convert_module, _streaming_module

    monkeypatch.delenv("TFLM_PATH", raising=False)
    lib = write_standin(tmp_path / "Arduino_TensorFlowLite", "pinned")
    stateful = render_tflm(_convert_module(_streaming_module, "streaming-v2"), get_board("nano33"),
                           tmp_path / "stateful", tflm_path=lib)
    runtime = (tmp_path / "stateful" / "src" / "tflm_runtime.cc").read_text()
    assert "MicroResourceVariables::Create(allocator, " in runtime and "MicroAllocator::Create(g_arena" in runtime
    assert {"VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE", "CALL_ONCE"} <= {op.opcode for op in stateful.ops}

    loop = render_tflm(_convert_module(_loop_module, "loop-v2"), get_board("nano33"), tmp_path / "loop",
                       tflm_path=lib)
    assert {"WHILE", "LESS", "ABS", "MUL"} <= {op.opcode for op in loop.ops}, loop.ops
    assert "MicroResourceVariables" not in (tmp_path / "loop" / "src" / "tflm_runtime.cc").read_text()

    linked = build_nano33(tmp_path / "stateful", tmp_path / "obj")
    assert linked.returncode == 0, linked.stderr
