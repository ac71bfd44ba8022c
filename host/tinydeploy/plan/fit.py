"""Will the firmware fit the board?  Checked before a build from the model, confirmed after it from the ELF.

    fit = estimate_fit(model, board, "aot", arena_bytes=6144, weights_bytes=3068)
    check_fit(fit)            # UserError when it does not fit: before minutes of compiling
    print(fit.describe())     # "needs 16 KB flash, qemu-m4 has 4 MB: fits; needs 10 KB RAM, qemu-m4 has 4 MB: fits"
    confirm_fit(fit, build)   # the same with the linker's figures (UserError when they do not fit)

The estimate is the model's share, which is known exactly (constant tensors in flash, the tensor arena in
RAM), plus the firmware around it, which is not: the runtime's code (a base and a share per distinct op)
and its static RAM and stack, and the Arduino core on Arduino boards.  The aot figures are measured builds
(below), rounded up, so an aot estimate errs on the large side (checked in tests/test_fit.py); the tflm and
Arduino figures are typical sizes, not measured here (neither builds offline).  The build's real sizes
replace the estimate afterwards.
The board's flash and RAM come from its boards/*.toml (0 for the native board: no limit).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from tinydeploy.boards import Board
from tinydeploy.errors import UserError
from tinydeploy.model.graph import Model


@dataclass(frozen=True)
class RuntimeCost:
    """Firmware besides the model's own data: code in flash, static RAM and stack (bytes)."""

    code_base: int
    code_per_op: int  # per distinct op type (one kernel each)
    static_ram: int  # harness buffers, runtime state, C library
    stack: int


# aot, qemu-m4 (gcc -Os, harness included): a 1-op FULLY_CONNECTED model 6,348 B flash (12 B of
# constants), digits_cnn 14,260 B (3,928 B constants), mobilenet_tiny 15,956 B (3,068 B constants):
# ~6.3 KB base and ~1-1.5 KB per kernel; static RAM 1,232 B besides the arena; stack a few hundred bytes.
# tflm: TFLite Micro's interpreter, allocator and flatbuffer reader are ~60 KB of Cortex-M code, a reference
# or CMSIS-NN kernel 3-10 KB; its static RAM (op resolver, interpreter, error buffers) a few KB.
RUNTIME_COSTS = {
    "aot": RuntimeCost(code_base=7 * 1024, code_per_op=2 * 1024, static_ram=2 * 1024, stack=2 * 1024),
    "tflm": RuntimeCost(code_base=64 * 1024, code_per_op=8 * 1024, static_ram=4 * 1024, stack=4 * 1024),
}
# The Arduino core under an Arduino sketch (Arduino Mbed OS core on the Nano 33 BLE: an empty sketch takes
# ~80 KB of flash and ~45 KB of RAM, Mbed's RTOS and USB stack included).
FRAMEWORK_COSTS = {"arduino": (80 * 1024, 45 * 1024)}


@dataclass(frozen=True)
class Fit:
    board: Board
    runtime: str
    flash_needed: int
    ram_needed: int
    parts: dict[str, int]  # what the figures are made of: weights, code, arena, static_ram, stack, framework_*
    measured: bool = False  # True: the linker's figures of the built firmware

    @property
    def flash_available(self) -> int:
        return self.board.flash_bytes

    @property
    def ram_available(self) -> int:
        return self.board.ram_bytes

    @property
    def flash_fits(self) -> bool:
        return not self.flash_available or self.flash_needed <= self.flash_available

    @property
    def ram_fits(self) -> bool:
        return not self.ram_available or self.ram_needed <= self.ram_available

    @property
    def fits(self) -> bool:
        return self.flash_fits and self.ram_fits

    def describe(self) -> str:
        """'needs 538 KB flash, nano33 has 1 MB: fits; needs 60 KB RAM, nano33 has 256 KB: fits'."""
        how = "built" if self.measured else "estimate"
        return f"{self._line('flash', self.flash_needed, self.flash_available)}; " \
               f"{self._line('RAM', self.ram_needed, self.ram_available)} ({how})"

    def _line(self, what: str, needed: int, available: int) -> str:
        if not available:
            return f"needs {human_bytes(needed)} {what}, {self.board.id} has no fixed limit"
        verdict = "fits" if needed <= available else f"does not fit ({human_bytes(needed - available)} too much)"
        return f"needs {human_bytes(needed)} {what}, {self.board.id} has {human_bytes(available)}: {verdict}"

    def to_dict(self) -> dict[str, Any]:
        return {"board": self.board.id, "runtime": self.runtime, "measured": self.measured,
                "flash_needed": self.flash_needed, "flash_available": self.flash_available,
                "ram_needed": self.ram_needed, "ram_available": self.ram_available, "fits": self.fits,
                "parts": dict(self.parts)}


def human_bytes(n: int) -> str:
    """1 MB, 538 KB, 1.5 MB, 812 B (binary units, as board datasheets count memory)."""
    if n < 1024:
        return f"{n} B"
    for unit, size in (("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= size:
            value = n / size
            return f"{value:.0f} {unit}" if value >= 10 or value == int(value) else f"{value:.1f} {unit}"
    return f"{n} B"  # unreachable


def constant_bytes(model: Model) -> int:
    """Bytes of the model's constant tensors (weights, biases): what the firmware keeps in flash."""
    return sum(t.nbytes for t in model.tensors if t.is_constant)


def estimate_fit(model: Model, board: Board, runtime: str, *, arena_bytes: int | None,
                 weights_bytes: int | None = None) -> Fit:
    """The flash and RAM the firmware will need, before building it.  weights_bytes: the renderer's own
    figure when it has one (aot folds and packs constants), else the model's constant tensors."""
    cost = RUNTIME_COSTS.get(runtime, RUNTIME_COSTS["tflm"])
    weights = constant_bytes(model) if weights_bytes is None else weights_bytes
    code = cost.code_base + cost.code_per_op * len(set(model.op_names))
    parts = {"weights": weights, "code": code, "arena": arena_bytes or 0, "static_ram": cost.static_ram,
             "stack": cost.stack}
    framework = FRAMEWORK_COSTS.get(board.platformio.framework)
    if framework:
        parts["framework_flash"], parts["framework_ram"] = framework
    flash = weights + code + parts.get("framework_flash", 0)
    ram = parts["arena"] + cost.static_ram + cost.stack + parts.get("framework_ram", 0)
    return Fit(board=board, runtime=runtime, flash_needed=flash, ram_needed=ram, parts=parts)


def check_fit(fit: Fit, model_name: str) -> Fit:
    """Refuse (UserError) a firmware that will not fit the board, naming what takes the room."""
    if fit.fits:
        return fit
    parts = fit.parts
    if not fit.flash_fits:
        raise UserError(f"{model_name}: {fit._line('flash', fit.flash_needed, fit.flash_available)} "
                        f"(weights {human_bytes(parts['weights'])}, {fit.runtime} runtime code ~{human_bytes(parts['code'])}"
                        + (f", Arduino core ~{human_bytes(parts['framework_flash'])}" if "framework_flash" in parts else "")
                        + ")", hint="quantize the weights to int8 (deploy convert --mode int8), shrink the model, "
                                    "or pick a board with more flash (deploy boards)")
    raise UserError(f"{model_name}: {fit._line('RAM', fit.ram_needed, fit.ram_available)} "
                    f"(tensor arena {human_bytes(parts['arena'])}, {fit.runtime} runtime ~"
                    f"{human_bytes(parts['static_ram'] + parts['stack'])}"
                    + (f", Arduino core ~{human_bytes(parts['framework_ram'])}" if "framework_ram" in parts else "") + ")",
                    hint="use smaller activations (fewer channels, a smaller input), the aot runtime (its arena "
                         "is planned exactly), or a board with more RAM (deploy boards)")


def confirm_fit(fit: Fit, flash_bytes: int, ram_bytes: int, model_name: str) -> Fit:
    """The fit with the built firmware's real sizes (the linker's text+data and data+bss, stack and heap
    sections included where the linker script reserves them); refused like the estimate when they exceed
    the board."""
    measured = replace(fit, flash_needed=flash_bytes, ram_needed=ram_bytes, measured=True,
                       parts={**fit.parts, "estimated_flash": fit.flash_needed, "estimated_ram": fit.ram_needed})
    return check_fit(measured, model_name)
