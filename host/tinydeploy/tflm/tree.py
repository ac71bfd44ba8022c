"""A local TensorFlow Lite Micro source tree (`--tflm-path DIR` or the TFLM_PATH environment variable).

Two layouts are accepted, both with `tensorflow/` and `third_party/` at the tree's root:

* "tflm-tree": what TFLM's `tensorflow/lite/micro/tools/project_generation/create_tflm_tree.py` emits
  (`.cc` sources; third-party headers included through -I third_party/flatbuffers/include etc.).
* "arduino": the `src/` directory of the TFLM Arduino library (`.cpp` sources, includes already rewritten
  to full `third_party/...` paths, `TensorFlowLite.h` at its root).  Passing the library's own root
  (the directory holding `library.properties` and `src/`) works too.

The Arduino library is written for the Arduino build: its sources test `ARDUINO` (`#ifdef ARDUINO` /
`#ifndef ARDUINO` in kernel_util, the flatbuffer conversions, kernels/*.h and the CMSIS-NN kernels: built
without it they do not compile), and its board glue -- tensorflow/lite/micro/system_setup.cpp (DebugLog over
Serial, InitializeTarget), micro_time.cpp (at later commits: peripherals::MicrosecondsCounter) and
peripherals/ (which #errors off the Arduino framework) -- needs an Arduino core.  So on a bare-metal board
the library is built with -DARDUINO=100, the glue is left out and the project supplies DebugLog, the
timer and InitializeTarget itself (`bare_metal_*` below).

Besides checking that the files PlatformIO needs are present, the tree is read for three facts: the
`AddXxx()` methods its micro_mutable_op_resolver.h declares, DebugLog's signature (debug_log.h), and on
which Arduino boards system_setup.cpp defines DebugLog.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from tinydeploy.errors import UserError

ENV_VAR = "TFLM_PATH"

# Files both layouts must have, relative to the root (the interpreter's source is checked per layout).
REQUIRED = (
    "tensorflow/lite/micro/micro_interpreter.h",
    "tensorflow/lite/micro/micro_mutable_op_resolver.h",
    "tensorflow/lite/schema/schema_generated.h",
    "third_party/flatbuffers/include/flatbuffers/flatbuffers.h",
    "third_party/gemmlowp",
    "third_party/ruy",
)
# -I directories of a create_tflm_tree.py tree, relative to the root, used when present.
TREE_INCLUDE_DIRS = (
    "",
    "third_party/flatbuffers/include",
    "third_party/gemmlowp",
    "third_party/ruy",
    "third_party/kissfft",
    "third_party/cmsis",
    "third_party/cmsis/CMSIS/Core/Include",
    "third_party/cmsis_nn",
    "third_party/cmsis_nn/Include",
)
CMSIS_NN_KERNELS = "tensorflow/lite/micro/kernels/cmsis_nn"
MICRO = "tensorflow/lite/micro"
# The Arduino library's board glue, left out of bare-metal builds (see the module docstring).
ARDUINO_GLUE = (f"{MICRO}/system_setup.cpp", f"{MICRO}/micro_time.cpp", "peripherals/", "test_over_serial/")
ARDUINO_VERSION_FOR_BARE_METAL = "100"  # what -DARDUINO= says off the Arduino framework
SOURCE_SUFFIXES = (".h", ".hpp", ".c", ".cc", ".cpp", ".S", ".s", ".inc")

_RESOLVER_METHOD = re.compile(r"\bTfLiteStatus\s+(Add\w+)\s*\(")
_DEFINES_DEBUG_LOG = re.compile(r"\bvoid\s+DebugLog\s*\([^)]*\)\s*\{")
# `#if defined(ARDUINO) && !defined(ARDUINO_ARDUINO_NANO33BLE) && ...` then `#define ARDUINO_EXCLUDE_CODE`:
# the glue is compiled only on the boards named in the !defined(...) terms.
_EXCLUDE_CODE = re.compile(r"#if\s+defined\(ARDUINO\)((?:\s*&&\s*!\s*defined\(\w+\))+)[^\n]*\n\s*#define\s+ARDUINO_EXCLUDE_CODE")


@dataclass(frozen=True)
class TflmTree:
    root: Path
    layout: str  # "tflm-tree" or "arduino"
    include_dirs: tuple[Path, ...]
    cmsis_nn: bool  # the tree carries TFLM's CMSIS-NN optimized kernels
    debug_log_takes_va_list: bool  # DebugLog(const char*, va_list) (newer TFLM) vs DebugLog(const char*)
    debug_vsnprintf: bool = False  # debug_log.h also declares DebugVsnprintf (the platform file defines it)
    has_debug_log: bool = True  # a create_tflm_tree.py tree with its own debug_log.cc
    # AddXxx() methods micro_mutable_op_resolver.h declares; None when the header declares none we can read.
    resolver_methods: frozenset[str] | None = None
    # Arduino layout: the board macros (ARDUINO_ARDUINO_NANO33BLE, ...) on which system_setup.cpp defines
    # DebugLog; None = on every Arduino board; () = never (no system_setup.cpp, or no DebugLog in it).
    debug_log_boards: tuple[str, ...] | None = ()
    has_micro_time_h: bool = False
    has_system_setup_h: bool = False
    digest: str = field(default="", compare=False)  # sha256 of the tree's sources (the build cache's key)

    @property
    def source_suffix(self) -> str:
        return ".cpp" if self.layout == "arduino" else ".cc"

    @property
    def umbrella_header(self) -> str:
        """The Arduino library's TensorFlowLite.h, included first so Arduino tooling finds the library."""
        return "TensorFlowLite.h" if (self.root / "TensorFlowLite.h").is_file() else ""

    def build_flags(self) -> list[str]:
        flags = [f"-I{d}" for d in self.include_dirs]
        if self.cmsis_nn:
            flags.append("-DCMSIS_NN")  # what TFLM's Makefile sets with OPTIMIZED_KERNEL_DIR=cmsis_nn
        return flags

    def bare_metal_defines(self, arduino_board: bool) -> dict[str, str]:
        """Defines the whole project needs on a board without the Arduino framework: the Arduino library's
        sources only compile with ARDUINO defined, and the sketch must see the same headers they do."""
        if self.layout == "arduino" and not arduino_board:
            return {"ARDUINO": ARDUINO_VERSION_FOR_BARE_METAL}
        return {}

    def bare_metal_glue(self, arduino_board: bool) -> bool:
        """True when the library's board glue is left out and the project supplies InitializeTarget and the
        timer (td_tflm_platform.cc)."""
        return self.layout == "arduino" and not arduino_board

    def provides_debug_log(self, arduino_board: bool, board_macros: tuple[str, ...] = ()) -> bool:
        """Whether the library's own sources, as built for this board, define DebugLog()."""
        if self.layout != "arduino":
            return self.has_debug_log
        return arduino_board and glue_defines_debug_log(self.debug_log_boards, board_macros)

    def src_filter(self, arduino_board: bool = False) -> list[str]:
        """PlatformIO srcFilter: the library's sources, never its examples or tests; on a bare-metal board
        not the Arduino library's board glue either."""
        glue = [f"-<{path}>" for path in ARDUINO_GLUE] if self.bare_metal_glue(arduino_board) else []
        # The Arduino library is built whole, as the Arduino tooling does (peripherals/ included: at later
        # commits micro_time.cpp needs it); a create_tflm_tree.py tree has its sources in these three.
        sources = ["+<*>"] if self.layout == "arduino" else ["+<tensorflow/>", "+<third_party/>", "+<signal/>"]
        return [
            *sources,
            "-<examples/>",
            "-<**/examples/>",
            "-<**/*_test.cc>",
            "-<**/*_test.cpp>",
            "-<**/tests/>",
            *glue,
        ]


def glue_defines_debug_log(boards: tuple[str, ...] | None, board_macros: tuple[str, ...]) -> bool:
    """system_setup.cpp's DebugLog on an Arduino board: everywhere (None), nowhere (()) or on the named boards."""
    return True if boards is None else any(macro in boards for macro in board_macros)


def debug_log_boards(system_setup: str) -> tuple[str, ...] | None:
    """On which Arduino boards this system_setup.cpp defines DebugLog (see TflmTree.debug_log_boards)."""
    if not _DEFINES_DEBUG_LOG.search(system_setup):
        return ()
    exclude = _EXCLUDE_CODE.search(system_setup)
    if exclude is None:
        return None
    return tuple(re.findall(r"defined\((\w+)\)", exclude.group(1)))


def resolver_methods(header: str) -> frozenset[str] | None:
    """The AddXxx() methods a micro_mutable_op_resolver.h declares (None when it declares none)."""
    found = frozenset(_RESOLVER_METHOD.findall(header))
    return found or None


def tree_digest(root: Path) -> str:
    """sha256 over the tree's source files (relative names and contents): equal trees, equal digests."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.suffix in SOURCE_SUFFIXES and p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def _resolve_root(path: Path) -> Path:
    path = path.expanduser()
    if not path.exists():
        raise UserError(f"--tflm-path {path}: no such directory",
                        hint=f"point --tflm-path (or {ENV_VAR}) at a create_tflm_tree.py output or the "
                             "TFLM Arduino library's src/")
    if not path.is_dir():
        raise UserError(f"--tflm-path {path}: is a file, expected a directory")
    # The Arduino library's root: its sources live in src/.
    if not (path / "tensorflow").is_dir() and (path / "src" / "tensorflow").is_dir():
        return (path / "src").resolve()
    return path.resolve()


def detect(path: Path) -> TflmTree:
    """Validate a TFLM tree and tell its layout; a UserError names every missing piece."""
    root = _resolve_root(Path(path))
    missing = [rel for rel in REQUIRED if not (root / rel).exists()]
    micro = root / "tensorflow/lite/micro"
    if (micro / "micro_interpreter.cpp").is_file():
        layout = "arduino"
    elif (micro / "micro_interpreter.cc").is_file():
        layout = "tflm-tree"
    else:
        layout = ""
        missing.append("tensorflow/lite/micro/micro_interpreter.cc (or .cpp)")
    if missing:
        raise UserError(
            f"--tflm-path {root} is not a TFLite Micro tree: missing {', '.join(missing)}",
            hint="generate one with tensorflow/lite/micro/tools/project_generation/create_tflm_tree.py, or "
                 "use the TFLM Arduino library's src/ directory",
        )
    if layout == "arduino":
        includes: tuple[Path, ...] = (root,)
    else:
        includes = tuple(root / d if d else root for d in TREE_INCLUDE_DIRS if (root / d).is_dir())
    debug_log_text = _read(micro / "debug_log.h")
    system_setup = micro / "system_setup.cpp"
    return TflmTree(root=root, layout=layout, include_dirs=includes,
                    cmsis_nn=(root / CMSIS_NN_KERNELS).is_dir(),
                    debug_log_takes_va_list="va_list" in debug_log_text,
                    debug_vsnprintf="DebugVsnprintf" in debug_log_text,
                    has_debug_log=layout == "tflm-tree" and any(micro.rglob("debug_log.cc")),
                    resolver_methods=resolver_methods(_read(micro / "micro_mutable_op_resolver.h")),
                    debug_log_boards=debug_log_boards(_read(system_setup)) if system_setup.is_file() else (),
                    has_micro_time_h=(micro / "micro_time.h").is_file(),
                    has_system_setup_h=(micro / "system_setup.h").is_file(),
                    digest=tree_digest(root))


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.is_file() else ""


def locate(path: Path | str | None = None) -> TflmTree | None:
    """The tree named by the option, else by TFLM_PATH; None when neither is set."""
    chosen = path if path not in (None, "") else os.environ.get(ENV_VAR) or None
    return detect(Path(chosen)) if chosen else None
