"""A local TensorFlow Lite Micro source tree (`--tflm-path DIR` or the TFLM_PATH environment variable).

Two layouts are accepted, both with `tensorflow/` and `third_party/` at the tree's root:

* "tflm-tree": what TFLM's `tensorflow/lite/micro/tools/project_generation/create_tflm_tree.py` emits
  (`.cc` sources; third-party headers included through -I third_party/flatbuffers/include etc.).
* "arduino": the `src/` directory of the TFLM Arduino library (`.cpp` sources, includes already rewritten
  to full `third_party/...` paths, `TensorFlowLite.h` at its root).  Passing the library's own root
  (the directory holding `library.properties` and `src/`) works too.

Nothing here reads TFLM sources beyond checking that the files PlatformIO will need are present.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
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


@dataclass(frozen=True)
class TflmTree:
    root: Path
    layout: str  # "tflm-tree" or "arduino"
    include_dirs: tuple[Path, ...]
    cmsis_nn: bool  # the tree carries TFLM's CMSIS-NN optimized kernels
    debug_log_takes_va_list: bool  # DebugLog(const char*, va_list) (newer TFLM) vs DebugLog(const char*)
    debug_vsnprintf: bool = False  # debug_log.h also declares DebugVsnprintf (the platform file defines it)
    has_debug_log: bool = True  # the sources we build define DebugLog() (a debug_log.cc outside arduino/)

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

    def src_filter(self) -> list[str]:
        """PlatformIO srcFilter: the library's sources, never its examples, tests or board glue."""
        return [
            "+<tensorflow/>",
            "+<third_party/>",
            "+<signal/>",
            "-<examples/>",
            "-<**/examples/>",
            "-<**/*_test.cc>",
            "-<**/*_test.cpp>",
            "-<**/tests/>",
            # Arduino library only: board peripherals and the Serial-based DebugLog/InitializeTarget.  The
            # bare-metal sketch gets DebugLog from tflm_runtime; Arduino builds use the lib_deps library.
            "-<peripherals/>",
            "-<test_over_serial/>",
            "-<tensorflow/lite/micro/arduino/>",
        ]


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
    debug_log_h = micro / "debug_log.h"
    debug_log_text = debug_log_h.read_text(errors="replace") if debug_log_h.is_file() else ""
    return TflmTree(root=root, layout=layout, include_dirs=includes,
                    cmsis_nn=(root / CMSIS_NN_KERNELS).is_dir(),
                    debug_log_takes_va_list="va_list" in debug_log_text,
                    debug_vsnprintf="DebugVsnprintf" in debug_log_text,
                    # The Arduino layout's DebugLog lives in tensorflow/lite/micro/arduino/, which we leave out.
                    has_debug_log=layout == "tflm-tree" and any(micro.rglob("debug_log.cc")))


def locate(path: Path | str | None = None) -> TflmTree | None:
    """The tree named by the option, else by TFLM_PATH; None when neither is set."""
    chosen = path if path not in (None, "") else os.environ.get(ENV_VAR) or None
    return detect(Path(chosen)) if chosen else None
