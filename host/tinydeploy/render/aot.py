"""Render the aot runtime for one board: generated model C + the kernels it needs + the harness project.

    result = render_aot(Path("model.tflite"), get_board("qemu-m4"), Path("out/m4"))
    result.arena_bytes, result.weights_bytes, result.report_text

Project layout under out_dir/src/: model.c, model.h, td_runtime_aot.c (td_runtime.h for the harness) and
aot/kernels/ (the kernel .c files this model uses and every kernel header); write_project adds the board's
platform code, the harness and platformio.ini.  A render report (text and JSON) sits beside platformio.ini.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from tinydeploy.aot.codegen import AotProgram, generate, kernels_dir
from tinydeploy.aot.lowering import TargetFeatures
from tinydeploy.boards import Board
from tinydeploy.errors import UserError
from tinydeploy.model.graph import Model, load_model
from tinydeploy.render.project import GeneratedFile, ProjectSpec, write_project

KERNEL_SUBDIR = "aot/kernels"
REPORT_TEXT = "render_report.txt"
REPORT_JSON = "render_report.json"
# Float kernels must not have their multiply-adds fused: that changes the rounding versus TFLM.
AOT_BUILD_FLAGS = ["-ffp-contract=off", "-O2"]
# GCC >= 10 writes each object's call graph and frame sizes (.ci), from which the build bounds the stack
# (flash/stack.py); only where tinydeploy supplies that compiler (not the Arduino cores' older toolchains)
STACK_GRAPH_FLAGS = ["-fcallgraph-info=su"]


@dataclass
class RenderResult:
    project_dir: Path
    board: Board
    files: list[str]  # project-relative paths this renderer produced
    arena_bytes: int
    weights_bytes: int  # constant arrays in flash (weights, biases, multipliers, parameters excluded)
    op_count: int  # ops that run code
    folded_ops: int
    kernels: list[str]
    model_sha256: str
    report_text: str
    program: AotProgram = field(repr=False)


def target_features(board: Board, *, optimized: bool = True, small_layer_macs: int | None = None,
                    memory_priority: str = "speed") -> TargetFeatures:
    features = TargetFeatures(cpu=board.cpu, dsp=board.features.dsp, fpu=board.features.fpu, mve=board.features.mve,
                              optimized=optimized, memory_priority=memory_priority)
    return features if small_layer_macs is None else dataclasses.replace(features, small_layer_macs=small_layer_macs)


def _check_layers_possible(model: Model) -> None:
    """--layers profiles each op of the file by extra inferences; two kinds of model do not fit that, and are
    told so before a build rather than by a firmware that reports no layers."""
    codes = set(model.op_names)
    why = None
    if codes & {"IF", "WHILE"}:
        why = "its IF/WHILE subgraphs run inline, so the generated layers are not the file's ops"
    elif codes & {"VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE"}:
        why = "it keeps state in variables, and each profiled inference would advance that state past the reference's"
    if why:
        raise UserError(f"{model.path or 'model'}: --layers cannot profile this model on aot: {why}",
                        hint="run without --layers: the verify still checks every output against TFLM")


def render_aot(model_path: Path, board: Board, out_dir: Path, *, optimized: bool = True,
               small_layer_macs: int | None = None, layers: bool = False, memory_priority: str = "speed"
               ) -> RenderResult:
    """Generate the model's C for the board's CPU and write the PlatformIO project to out_dir; `layers`
    builds in per-layer profiling and layer outputs (-DTD_LAYERS, docs/protocol.md "Layers")."""
    model = load_model(model_path)
    if layers:
        _check_layers_possible(model)
    program = generate(model, target_features(board, optimized=optimized, small_layer_macs=small_layer_macs,
                                              memory_priority=memory_priority))
    files = project_files(program)
    arduino = board.platformio.framework == "arduino"
    if arduino:
        files += arduino_files(board)
    spec = ProjectSpec(
        # On Arduino boards the sketch glue supplies td_platform (arduino_platform.cpp) and main().
        board=dataclasses.replace(board, firmware_platform="") if arduino else board,
        runtime="aot",
        files=files,
        include_dirs=[".", KERNEL_SUBDIR],
        defines={**({"TD_HARNESS_NO_MAIN": ""} if arduino else {}), **({"TD_LAYERS": ""} if layers else {})},
        build_flags=list(AOT_BUILD_FLAGS) + (STACK_GRAPH_FLAGS if board.platformio.platform == "tinydeploy" else []),
        model_sha256=model.sha256,
    )
    out_dir = Path(out_dir)
    write_project(spec, out_dir)
    report = render_report(program, board, Path(model_path))
    _write_atomic(out_dir / REPORT_TEXT, report)
    _write_atomic(out_dir / REPORT_JSON, json.dumps(report_json(program, board, Path(model_path)), indent=2) + "\n")
    return RenderResult(
        project_dir=out_dir, board=board, files=[f"src/{f.path}" for f in files] + [REPORT_TEXT, REPORT_JSON],
        arena_bytes=program.arena_bytes, weights_bytes=program.weights_bytes, op_count=program.op_count,
        folded_ops=len(program.folded_ops), kernels=program.kernels, model_sha256=model.sha256,
        report_text=report, program=program)


def arduino_files(board: Board) -> list[GeneratedFile]:
    """The Arduino sketch and td_platform glue: runtime-independent, shared with the tflm renderer."""
    from tinydeploy.render import tflm

    return tflm.arduino_files(tflm.Templates(None), board)  # one Arduino glue for both runtimes


def project_files(program: AotProgram) -> list[GeneratedFile]:
    """The runtime's share of the project's src/: generated files, the runtime adapter, the kernels."""
    files = [GeneratedFile(name, content=text) for name, text in program.files.items()]
    for src in program.kernel_sources:
        if src.parent == kernels_dir():
            files.append(GeneratedFile(f"{KERNEL_SUBDIR}/{src.name}", source=src))
        else:
            files.append(GeneratedFile(src.name, source=src))
    # every kernel header: small, and kernels include shared ones (td_fixedpoint.h, td_gemmlowp.h, ...)
    for header in sorted(kernels_dir().glob("*.h")):
        files.append(GeneratedFile(f"{KERNEL_SUBDIR}/{header.name}", source=header))
    return files


def render_report(program: AotProgram, board: Board, model_path: Path) -> str:
    model = program.model
    lines = [
        f"aot render of {model_path.name} (sha256 {model.sha256[:16]}...) for {board.id} ({board.cpu})",
        f"  ops: {len(model.operators)} in the model, {program.op_count} run code, "
        f"{len(program.folded_ops)} folded at build time, {len(program.dead_ops)} dropped as dead",
        f"  kernels: {', '.join(program.kernels) or '-'} ({'optimized' if program.target.optimized else 'reference'})",
        f"  arena: {program.arena_bytes} bytes (RAM; {program.plan.naive_bytes} without reuse; "
        f"--memory-priority {program.target.memory_priority})",
        f"  constants: {program.weights_bytes} bytes (flash)",
    ]
    for name, infos in (("input", program.inputs), ("output", program.outputs)):
        for i in infos:
            q = f" scale {i.scale:.6g} zero point {i.zero_point}" if i.scale else ""
            lines.append(f"  {name} '{i.name}': {i.dtype}{list(i.shape)}{q}")
    lines.append("")
    lines.append("memory plan:")
    lines.extend("  " + row for row in program.plan.table().splitlines())
    return "\n".join(lines) + "\n"


def report_json(program: AotProgram, board: Board, model_path: Path) -> dict[str, object]:
    model = program.model
    return {
        "runtime": "aot",
        "model": str(model_path),
        "model_sha256": model.sha256,
        "board": board.id,
        "optimized": program.target.optimized,
        "arena_bytes": program.arena_bytes,
        "arena_bytes_without_reuse": program.plan.naive_bytes,
        "memory_priority": program.target.memory_priority,
        "peak_bytes": program.plan.peak()[0],
        "peak_op": program.plan.peak()[1],
        "weights_bytes": program.weights_bytes,
        "ops_total": len(model.operators),
        "ops_run": program.op_count,
        "ops_folded": len(program.folded_ops),
        "ops_dead": len(program.dead_ops),
        "kernels": program.kernels,
        "plan_strategy": program.plan.strategy,
        "buffers": [
            {"offset": b.offset, "bytes": b.nbytes, "first": b.first, "last": b.last,
             "tensors": [model.tensors[t].name for t in b.tensors],
             "scratch": None if b.scratch is None else f"op{b.scratch.op}:{b.scratch.name}"}
            for b in sorted(program.plan.buffers, key=lambda b: b.offset)
        ],
        "inputs": [vars(i) | {"shape": list(i.shape)} for i in program.inputs],
        "outputs": [vars(i) | {"shape": list(i.shape)} for i in program.outputs],
    }


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.replace(path)
