"""What we know about specific commits of the TFLM Arduino library (tflite-micro-arduino-examples).

A local tree (`--tflm-path`) is read directly (tflm/tree.py).  A library that PlatformIO fetches on the
user's machine (`lib_deps = <git>#<ref>`) cannot be read at render time, so for the commits we have
checked its sources at, the facts the render depends on are recorded here:

* `missing_methods`: `MicroMutableOpResolver::AddXxx()` methods that tinydeploy.tflm.ops knows but that
  commit's micro_mutable_op_resolver.h does not declare (the sketch would not compile).
* `debug_log_boards`: the Arduino board macros on which its tensorflow/lite/micro/system_setup.cpp defines
  `DebugLog` (None: on every board), so the project defines its own only where the library does not.
* `debug_log_va_list`: DebugLog's signature in its debug_log.h.

An unknown ref gets no check and no DebugLog of ours (a newer library defines it on every board it
supports); docs/tflm.md says how to record another commit.
"""

from __future__ import annotations

from dataclasses import dataclass

PINNED_REF = "0b8e7c15c7e50811121825817a88f023a575f46a"
HEAD_REF = "7948b85e"  # the library's HEAD when these facts were last checked (prefix)


@dataclass(frozen=True)
class LibraryRef:
    ref: str
    missing_methods: frozenset[str]
    debug_log_boards: tuple[str, ...] | None
    debug_log_va_list: bool = False


KNOWN_REFS: tuple[LibraryRef, ...] = (
    # The pinned commit: no LOG_SOFTMAX kernel registration yet; system_setup.cpp compiles its Serial glue
    # (DebugLog included) only on the Nano 33 BLE and the Seeed XIAO nRF52840 Sense (ARDUINO_EXCLUDE_CODE).
    LibraryRef(PINNED_REF, frozenset({"AddLogSoftmax"}),
               ("ARDUINO_ARDUINO_NANO33BLE", "ARDUINO_SEEED_XIAO_NRF52840_SENSE")),
    # HEAD: system_setup.cpp defines DebugLog on every board it builds on (through peripherals/, which
    # #errors on boards it does not know); micro_time.cpp calls peripherals::MicrosecondsCounter.
    LibraryRef(HEAD_REF, frozenset(), None),
)


def known_ref(ref: str) -> LibraryRef | None:
    """The recorded facts for a commit (full hash or a prefix of at least 7 characters), else None."""
    ref = ref.strip().lower()
    if len(ref) < 7:
        return None
    for known in KNOWN_REFS:
        if known.ref.startswith(ref) or ref.startswith(known.ref):
            return known
    return None
