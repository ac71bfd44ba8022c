"""Memory of the aot runtime on the four MLPerf Tiny benchmark models: arena RAM vs TFLite Micro, code size.

    python bench/aot_memory.py [--board qemu-m4] [--opt -O2] [--weights seeded|trained] [--json out.json]

Arena: the aot memory plan's arena bytes against TFLM's arena for the same int8 models (measured with
TFLM's RecordingMicroAllocator on the reference kernels; the figures are fixed below); `ram mode`: the
arena with --memory-priority ram (residual skips recomputed; docs/memory.md).

Code size (needs arm-none-eabi-gcc and tinydeploy.flash.firmware): the model's generated C, its kernels and
the aot runtime adapter, built into the full device firmware (harness + platform) for the board, counted
from the linker map without the weights (const arrays of model.c: weights, biases, multipliers, LUTs).
`firmware w/o weights` adds the harness, the platform and the C library.  Target: aot code < 20 KB.

--weights trained: the same four models with trained weights (bench/trained_models.py).  The TFLM arena
figures stay those measured on the seeded models: TFLM's arena depends on tensor shapes, not on values.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from tinydeploy import zoo  # noqa: E402
from tinydeploy.aot.codegen import AotProgram, generate  # noqa: E402
from tinydeploy.aot.lowering import TargetFeatures  # noqa: E402
from tinydeploy.model.graph import load_model  # noqa: E402
from tinydeploy.paths import firmware_dir  # noqa: E402

# TFLM arena bytes (arena_used_bytes) for the same zoo int8 models, as measured by the team.
TFLM_ARENA = {"ds_cnn": 22_772, "mobilenet_v1_025": 100_660, "resnet8": 54_340, "fc_autoencoder": 2_260}
CODE_TARGET = 20 * 1024
# Sections that occupy flash: code, read-only data and the initial values of data.
_FLASH_SECTION = re.compile(r"^\.(text|rodata|data)\b")
# One input-section line of a GNU ld map: " .text.name  0xADDR  0xSIZE  object" (name may wrap).
_MAP_ENTRY = re.compile(r"^ (\.\S+)?\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S+\.o)\s*$")


@dataclass
class Row:
    model: str
    aot_arena: int
    tflm_arena: int
    weights: int
    aot_code: int | None = None  # generated code + kernels + adapter, flash, without weights
    firmware_flash: int | None = None  # whole firmware flash without weights
    aot_arena_ram: int | None = None  # with --memory-priority ram (instructions spent for bytes)


def model_path_of(name: str, weights: str = "seeded") -> Path:
    """The zoo model's int8 conversion, or its trained version's (bench/trained_models.py)."""
    if weights == "trained":
        sys.path.insert(0, str(Path(__file__).resolve().parent))  # also when imported as bench.aot_memory
        import trained_models  # bench/, next to this script

        return trained_models.tflite_path(name)
    return zoo.tflite_model(name, "int8")


def program_for(name: str, board_cpu: str, dsp: bool, fpu: bool, memory_priority: str = "speed",
                weights: str = "seeded", mve: bool = False) -> AotProgram:
    model = load_model(model_path_of(name, weights))
    return generate(model, TargetFeatures(cpu=board_cpu, dsp=dsp, fpu=fpu, mve=mve, optimized=True,
                                          memory_priority=memory_priority))


def flash_by_object(map_text: str) -> dict[str, int]:
    """Flash bytes per object file name from a GNU ld map (input sections under .text/.rodata/.data)."""
    sizes: dict[str, int] = {}
    pending: str | None = None
    for line in map_text.splitlines():
        m = _MAP_ENTRY.match(line)
        if m is None:
            stripped = line.strip()
            pending = stripped if stripped.startswith(".") and " " not in stripped else None
            continue
        section = m.group(1) or pending or ""
        pending = None
        if not _FLASH_SECTION.match(section) or int(m.group(2), 16) == 0:
            continue
        obj = Path(m.group(4)).name
        sizes[obj] = sizes.get(obj, 0) + int(m.group(3), 16)
    return sizes


def measure_code(program: AotProgram, board_name: str, opt: str, work: Path) -> tuple[int, int]:
    """(aot code bytes, firmware flash bytes), both without the weights."""
    from tinydeploy.flash.firmware import compile_firmware, firmware_size

    program.write(work)
    harness = sorted((firmware_dir() / "harness").glob("*.c"))
    sources = [work / "model.c", *program.kernel_sources, *harness]
    include_dirs = [work, *program.include_dirs, firmware_dir() / "harness"]
    elf = compile_firmware(board_name, sources, include_dirs, work, opt=opt, name="bench")
    per_object = flash_by_object((work / "bench.map").read_text())
    aot_objects = {f"{i:03d}_{s.stem}.o" for i, s in enumerate(sources) if s not in harness}
    aot_flash = sum(size for obj, size in per_object.items() if obj in aot_objects)
    total = firmware_size(elf, board_name).flash_bytes
    return aot_flash - program.weights_bytes, total - program.weights_bytes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--board", default="qemu-m4", help="board whose kernels are generated and built (qemu-m4, qemu-m33, qemu-m55, ...)")
    parser.add_argument("--opt", default="-O2", help="optimisation flag for the code-size build")
    parser.add_argument("--no-code", action="store_true", help="skip the firmware builds (arena only)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--weights", choices=("seeded", "trained"), default="seeded",
                        help="the zoo's seeded weights, or trained ones (bench/trained_models.py)")
    args = parser.parse_args(argv)

    from tinydeploy.boards import get_board

    board = get_board(args.board)
    features = board.features if hasattr(board, "features") else None
    dsp = bool(getattr(features, "dsp", False))
    mve = bool(getattr(features, "mve", False))  # Helium boards (qemu-m55): the kernels they really link
    fpu = bool(getattr(features, "fpu", False))
    rows: list[Row] = []
    code_note = ""
    for name, tflm in TFLM_ARENA.items():
        program = program_for(name, board.cpu, dsp, fpu, weights=args.weights, mve=mve)
        row = Row(name, program.arena_bytes, tflm, program.weights_bytes,
                  aot_arena_ram=program_for(name, board.cpu, dsp, fpu, "ram", args.weights, mve).arena_bytes)
        if not args.no_code and not code_note:
            try:
                with tempfile.TemporaryDirectory(prefix=f"aot-mem-{name}-") as tmp:
                    row.aot_code, row.firmware_flash = measure_code(program, args.board, args.opt, Path(tmp))
            except ImportError as err:
                code_note = f"code size not measured: firmware build path unavailable ({err})"
            except Exception as err:  # a missing toolchain or a broken build: report, keep the arena figures
                code_note = f"code size not measured: {str(err).splitlines()[0]}"
        rows.append(row)

    print(f"aot memory on {board.id} ({board.cpu}), {args.opt}, {args.weights} weights")
    header = (f"{'model':<18}{'aot arena':>11}{'TFLM arena':>12}{'saved':>8}{'ram mode':>10}{'weights':>10}"
              f"{'aot code':>10}{'fw w/o wts':>12}")
    print(header)
    print("-" * len(header))
    for r in rows:
        saved = f"{100 * (1 - r.aot_arena / r.tflm_arena):.0f}%"
        code = f"{r.aot_code:,}" if r.aot_code is not None else "-"
        fw = f"{r.firmware_flash:,}" if r.firmware_flash is not None else "-"
        print(f"{r.model:<18}{r.aot_arena:>11,}{r.tflm_arena:>12,}{saved:>8}{r.aot_arena_ram or 0:>10,}"
              f"{r.weights:>10,}{code:>10}{fw:>12}")
    if code_note:
        print(code_note)
    else:
        worst = max(r.aot_code or 0 for r in rows)
        verdict = "met" if worst < CODE_TARGET else "MISSED"
        print(f"aot code target < {CODE_TARGET:,} B: {verdict} (largest {worst:,} B)")
    if args.json:
        tmp = args.json.with_suffix(args.json.suffix + ".tmp")
        tmp.write_text(json.dumps([asdict(r) for r in rows], indent=2) + "\n")
        tmp.replace(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
