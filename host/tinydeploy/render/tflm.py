"""Render the `tflm` runtime: the model as a C array plus a TensorFlow Lite Micro sketch, as a PlatformIO project.

TFLM's sources never enter this repository.  By default the project's `lib_deps` pins the TFLM Arduino library
(git URL + commit), which PlatformIO fetches on the user's networked machine; with `--tflm-path DIR` (or the
TFLM_PATH environment variable) a local TFLM tree is wired in instead through a generated `library.json`, which
is also what lets the emulated (bare-metal) boards build the sketch.

Files the project gets (templates/tflm/, each overridable from a user templates directory; docs/tflm.md lists
every template's variables):
  src/model_data.h, src/model_data.cc   the flatbuffer, 16-byte aligned in flash, its length and sha256
  src/tflm_runtime.cc                   td_runtime.h over MicroMutableOpResolver<N> + MicroInterpreter
  src/sketch.cpp, src/arduino_platform.cpp   Arduino-framework boards: setup() runs the harness; td_platform
                                        over Serial + DWT/micros()
  src/td_tflm_debug_log.cc              DebugLog() where the library built for this board has none (a tree
                                        without debug_log.cc; the Arduino library off the Arduino framework
                                        or on a board its system_setup.cpp does not cover)
  src/td_tflm_platform.cc               the Arduino library on a bare-metal board: InitializeTarget() and
                                        the timer its left-out glue (system_setup.cpp, micro_time.cpp) had
  lib/tflite-micro-local/library.json   with a local tree only (and its build-cache marker, build/libcache.py)
The harness, the board's platform code and platformio.ini come from render.project.write_project.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
from dataclasses import dataclass, field
from pathlib import Path

from tinydeploy.boards import Board
from tinydeploy.build import libcache
from tinydeploy.errors import UserError
from tinydeploy.files import write_if_changed
from tinydeploy.model.graph import Model, load_model, parse_subgraph
from tinydeploy.paths import templates_dir as default_templates_dir
from tinydeploy.render.project import GeneratedFile, ProjectSpec, project_build_flags, write_project
from tinydeploy.tflm import arena as arena_mod
from tinydeploy.tflm import preflight
from tinydeploy.tflm.ops import resolver_method
from tinydeploy.tflm.refs import known_ref
from tinydeploy.tflm.tree import TflmTree, detect, glue_defines_debug_log, locate

# The TFLM Arduino library (Arduino_TensorFlowLite).  The default commit is one whose API the templates were
# checked against: MicroInterpreter(model, resolver, arena, size) without an ErrorReporter, arena_used_bytes(),
# MicroMutableOpResolver<N>::AddXxx() without an ErrorReporter.  Override with --tflm-git/--tflm-ref.
DEFAULT_TFLM_GIT = "https://github.com/tensorflow/tflite-micro-arduino-examples.git"
DEFAULT_TFLM_REF = "0b8e7c15c7e50811121825817a88f023a575f46a"
MODEL_ALIGNMENT = 16  # TFLM reads the flatbuffer in place; its buffers are 16-byte aligned relative to it
LOCAL_LIB_NAME = "tflite-micro-local"
LOCAL_LIB_DIR = f"lib/{LOCAL_LIB_NAME}"
# Flags every TFLM build uses (TFLM's own Makefile sets them): TfLiteTensor's layout depends on
# TF_LITE_STATIC_MEMORY, so the sketch and the library must agree; PlatformIO applies build_flags to both.
TFLM_BUILD_FLAGS = ("-DTF_LITE_STATIC_MEMORY",)
_DWT_CPUS = ("cortex-m3", "cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55", "cortex-m85")


@dataclass(frozen=True)
class ResolverOp:
    opcode: str  # "CONV_2D" or "CUSTOM:<code>"
    method: str  # "AddConv2D"


@dataclass
class RenderResult:
    project_dir: Path
    board: Board
    files: list[str]  # project-relative paths this renderer produced
    ops: list[ResolverOp]
    op_count: int  # N of MicroMutableOpResolver<N>
    arena_bytes: int
    arena: arena_mod.ArenaEstimate | None  # None when --arena-bytes was given and no measurement ran
    problems: list[preflight.Problem] = field(default_factory=list)  # warnings (errors raise)
    lib_deps: list[str] = field(default_factory=list)
    tree: TflmTree | None = None
    model_sha256: str = ""


def render_tflm(model_path: Path, board: Board, out_dir: Path, *, arena_bytes: int | None = None,
                arena_margin: float = arena_mod.DEFAULT_MARGIN, tflm_path: Path | None = None,
                tflm_git: str = DEFAULT_TFLM_GIT, tflm_ref: str = DEFAULT_TFLM_REF,
                templates_dir: Path | None = None, layers: bool = False) -> RenderResult:
    """Preflight the model, size the arena and write the PlatformIO project to out_dir; `layers` builds in
    per-layer profiling (-DTD_LAYERS: the sketch's MicroProfilerInterface hook, docs/protocol.md "Layers")."""
    model = load_model(model_path)
    tree = locate(tflm_path)
    arduino = board.platformio.framework == "arduino"
    defines = {"TD_HARNESS_NO_MAIN": ""} if arduino else {}
    if layers:
        defines["TD_LAYERS"] = ""
    # On Arduino boards this renderer supplies td_platform itself (arduino_platform.cpp): keep write_project
    # from adding (or requiring) firmware/platform/<board.firmware_platform>/.
    project_board = dataclasses.replace(board, firmware_platform="") if arduino else board
    fetched_key = _fetched_library_key(project_board, defines, tflm_git, tflm_ref) if tree is None and arduino else None
    if fetched_key is not None and (kept := libcache.cached_library(fetched_key, LOCAL_LIB_NAME)) is not None:
        tree = detect(kept)  # the library lib_deps fetched for an earlier model, compiled: link it
    if not arduino and tree is None:
        raise UserError(
            f"the tflm runtime on board {board.id} ({board.kind}, no Arduino framework) needs a local TFLM tree",
            hint="pass --tflm-path DIR or set TFLM_PATH (create_tflm_tree.py output or the Arduino library's "
                 "src/); or use --runtime aot")
    # TFLM's host interpreter checks the kernels and measures the arena; with --arena-bytes given it is
    # optional, so a machine without the tflite-micro package can still render.
    host = None
    if arena_bytes is None or importlib.util.find_spec("tflite_micro") is not None:
        host = arena_mod.measure_host(model)
    problems = preflight.check(model, run_host=host is not None, host=host)
    estimate, arena_size = _size_arena(model, board, host, arena_bytes, arena_margin, tree)

    ops = resolver_ops(model, **_resolver_check(tree, tflm_ref))
    renderer = Templates(templates_dir)
    files = _runtime_files(renderer, model, Path(model_path), ops, estimate, arena_size, tree, arduino)
    if arduino:
        files += arduino_files(renderer, board)
    files += _glue_files(renderer, board, tree, tflm_ref)

    # A local tree is named explicitly: its headers are also on the global include path (the sketch needs
    # them), which hides the library from PlatformIO's dependency finder.
    lib_deps = [LOCAL_LIB_NAME] if tree is not None else [f"{tflm_git}#{tflm_ref}"]
    if tree is not None:
        defines.update(tree.bare_metal_defines(arduino))
    # A kept lib_deps library is compiled as the Arduino tooling built it: with the fetched build's flags.
    cmsis_flag = ["-DCMSIS_NN"] if tree and tree.cmsis_nn and fetched_key is None else []
    spec = ProjectSpec(
        board=project_board,
        runtime="tflm",
        files=files,
        include_dirs=[str(d) for d in tree.include_dirs] if tree else [],
        defines=defines,
        build_flags=[*TFLM_BUILD_FLAGS, *cmsis_flag],
        lib_deps=lib_deps,
        model_sha256=model.sha256,
    )
    out_dir = Path(out_dir)
    if tree is not None:
        _write_local_library(renderer, tree, out_dir, spec, arduino, key=fetched_key)
    write_project(spec, out_dir)
    if tree is None and fetched_key is not None:
        libcache.write_fetched_marker(out_dir, key=fetched_key, name=LOCAL_LIB_NAME,
                                      probe="src/tensorflow/lite/micro/micro_interpreter.cpp")
    else:
        libcache.clear_fetched_marker(out_dir)
    produced = [f"src/{f.path}" for f in files] + ([f"{LOCAL_LIB_DIR}/library.json"] if tree else [])
    return RenderResult(project_dir=out_dir, board=board, files=produced, ops=ops, op_count=len(ops),
                        arena_bytes=arena_size, arena=estimate,
                        problems=[p for p in problems if p.severity != "error"], lib_deps=lib_deps, tree=tree,
                        model_sha256=model.sha256)


def _subgraphs(model: Model) -> list[Model]:
    return [model] + [parse_subgraph(model, index) for index in range(1, model.num_subgraphs)]


def ops_of_every_subgraph(model: Model) -> list[str]:
    """Distinct op names in first-use order over every subgraph: TFLM resolves the ops of IF/WHILE branches
    and of a CALL_ONCE initialization subgraph through the same resolver as the main graph's."""
    names: dict[str, None] = {}
    for graph in _subgraphs(model):
        names.update(dict.fromkeys(graph.op_names))
    return list(names)


def resource_variable_count(model: Model) -> int:
    """How many resource variables TFLM's MicroResourceVariables must hold: one per VAR_HANDLE (an upper
    bound: handles naming the same variable share one)."""
    return sum(op.opcode == "VAR_HANDLE" for graph in _subgraphs(model) for op in graph.operators)


def resolver_ops(model: Model, *, unavailable: frozenset[str] = frozenset(), where: str = "") -> list[ResolverOp]:
    """The model's distinct ops in first-use order with their AddXxx() method (preflight vetted them);
    `unavailable` names the methods the TFLM being built lacks (`where` says which TFLM that is)."""
    ops, missing = [], []
    for opcode in ops_of_every_subgraph(model):
        method = resolver_method(opcode)
        if method is None:
            raise UserError(f"{opcode} is not supported by the pinned TFLite Micro",
                            hint="run the tflm preflight: it names the layer and the fix")
        if method in unavailable:
            missing.append(f"{opcode} (MicroMutableOpResolver::{method}())")
        ops.append(ResolverOp(opcode, method))
    if missing:
        raise UserError(f"{where} cannot register {', '.join(missing)}: its micro_mutable_op_resolver.h has no "
                        f"such method",
                        hint="use a TFLM that has the kernel (--tflm-ref COMMIT, or --tflm-path DIR), remove "
                             "those layers from the model, or use --runtime aot")
    return ops


def _resolver_check(tree: TflmTree | None, tflm_ref: str) -> dict:
    """Which resolver methods the TFLM being built lacks: read from a local tree's header, recorded for a
    known library commit (tflm/refs.py), unknown (no check) otherwise."""
    from tinydeploy.tflm.ops import TFLM_CUSTOM_OPS, TFLM_OPS

    if tree is not None:
        if tree.resolver_methods is None:
            return {}
        known = {op.resolver_method for op in TFLM_OPS.values()} | set(TFLM_CUSTOM_OPS.values())
        return {"unavailable": frozenset(known - tree.resolver_methods), "where": f"the TFLM tree {tree.root}"}
    ref = known_ref(tflm_ref)
    if ref is None:
        return {}
    return {"unavailable": ref.missing_methods, "where": f"the TFLM Arduino library at {tflm_ref[:12]}"}


def _glue_files(renderer: "Templates", board: Board, tree: TflmTree | None, tflm_ref: str) -> list[GeneratedFile]:
    """DebugLog() where the library built for this board does not define it (never where it does: two
    definitions do not link), and the Arduino library's left-out board glue on bare-metal boards."""
    arduino = board.platformio.framework == "arduino"
    macros = board.platformio.board_macros
    if tree is not None:
        need_log, va_list, vsnprintf = (not tree.provides_debug_log(arduino, macros), tree.debug_log_takes_va_list,
                                        tree.debug_vsnprintf)
    else:
        ref = known_ref(tflm_ref)  # an unknown ref is assumed to define it, as the library's HEAD does
        need_log = ref is not None and not glue_defines_debug_log(ref.debug_log_boards, macros)
        va_list = vsnprintf = bool(ref and ref.debug_log_va_list)
    files = []
    if need_log:
        files.append(GeneratedFile("td_tflm_debug_log.cc", renderer.render(
            "td_tflm_debug_log.cc.j2", va_list=va_list, vsnprintf=vsnprintf)))
    if tree is not None and tree.bare_metal_glue(arduino):
        files.append(GeneratedFile("td_tflm_platform.cc", renderer.render(
            "td_tflm_platform.cc.j2", micro_time=tree.has_micro_time_h, system_setup=tree.has_system_setup_h)))
    return files


def _size_arena(model: Model, board: Board, host: arena_mod.HostMeasurement | None, arena_bytes: int | None,
                margin: float, tree: TflmTree | None) -> tuple[arena_mod.ArenaEstimate | None, int]:
    cmsis = tree.cmsis_nn if tree is not None else True  # the Arduino library ships CMSIS-NN kernels
    estimate = None
    if host is not None and not host.error:
        estimate = arena_mod.estimate(model, margin=margin, cmsis_nn=cmsis, host=host)
    if arena_bytes is not None:
        if arena_bytes < arena_mod.ALIGN:
            raise UserError(f"--arena-bytes {arena_bytes} is too small", hint="leave it out to size it from a measurement")
        size = (arena_bytes + arena_mod.ALIGN - 1) // arena_mod.ALIGN * arena_mod.ALIGN
    elif estimate is not None:
        size = estimate.arena_bytes
    else:
        raise UserError("cannot size the tensor arena: TFLM's host interpreter did not run the model",
                        hint="pass --arena-bytes N")
    if size >= board.ram_bytes:
        raise UserError(f"tensor arena of {size} bytes does not fit board {board.id} ({board.ram_bytes} bytes of RAM)",
                        hint="use a smaller model (deploy convert --mode int8), or a board with more RAM")
    return estimate, size


def _runtime_files(renderer: "Templates", model: Model, model_path: Path, ops: list[ResolverOp],
                   estimate: arena_mod.ArenaEstimate | None, arena_size: int, tree: TflmTree | None,
                   arduino: bool) -> list[GeneratedFile]:
    common = dict(model_name=model_path.name, model_len=len(model.raw), model_sha256=model.sha256)
    digest = hashlib.sha256(model.raw).digest()
    # TensorFlowLite.h pulls in peripherals/, which needs the Arduino core (#error elsewhere): bare-metal
    # boards include the TFLM headers directly.
    if not arduino:
        umbrella = ""
    else:
        umbrella = tree.umbrella_header if tree is not None else "TensorFlowLite.h"
    return [
        GeneratedFile("model_data.h", renderer.render("model_data.h.j2", **common)),
        GeneratedFile("model_data.cc", renderer.render(
            "model_data.cc.j2", **common, alignment=MODEL_ALIGNMENT, array_body=c_bytes(model.raw),
            sha256_body=c_bytes(digest))),
        GeneratedFile("tflm_runtime.cc", renderer.render(
            "tflm_runtime.cc.j2", ops=ops, op_count=len(ops), arena_bytes=arena_size,
            arena_required=estimate.required if estimate else arena_size,
            max_io=max(len(model.inputs), len(model.outputs), 1), umbrella_header=umbrella,
            resource_variables=resource_variable_count(model))),
    ]


def arduino_files(renderer: "Templates", board: Board) -> list[GeneratedFile]:
    values = dict(board_id=board.id, cpu=board.cpu, clock_hz=board.clock_hz, baud=board.serial.baud,
                  use_dwt=board.cpu in _DWT_CPUS, dwt_lock=board.cpu == "cortex-m7")
    return [GeneratedFile("sketch.cpp", renderer.render("sketch.cpp.j2", **values)),
            GeneratedFile("arduino_platform.cpp", renderer.render("arduino_platform.cpp.j2", **values))]


def _fetched_library_key(board: Board, defines: dict[str, str], git: str, ref: str) -> str:
    """The cache key of the lib_deps library as PlatformIO builds it for this board: git URL and commit in
    place of a tree digest, and the flags the fetched build compiles it with."""
    flags = project_build_flags(ProjectSpec(board=board, runtime="tflm", files=[], defines=defines,
                                            build_flags=list(TFLM_BUILD_FLAGS)))
    return libcache.cache_key(tree_digest=f"{git}#{ref}", board=board, flags=flags)


def _write_local_library(renderer: "Templates", tree: TflmTree, out_dir: Path, spec: ProjectSpec,
                         arduino: bool, key: str | None = None) -> None:
    """library.json for the local tree, and the marker that lets every model of this board reuse its
    compiled archive (build/libcache.py): the key covers the tree, the board and every flag it sees."""
    flags = [*tree.build_flags(), *TFLM_BUILD_FLAGS]
    text = renderer.render("library.json.j2", name=LOCAL_LIB_NAME, root=str(tree.root), layout=tree.layout, flags=flags,
                           src_filter=tree.src_filter(arduino))
    try:
        manifest = json.loads(text)
    except ValueError as err:
        raise UserError(f"template library.json.j2 does not produce JSON: {err}",
                        hint="docs/tflm.md lists the variables each template receives") from None
    lib_dir = out_dir / LOCAL_LIB_DIR
    write_if_changed(lib_dir / "library.json", text)
    key = key or libcache.cache_key(tree_digest=tree.digest, board=spec.board,
                                    flags=[*project_build_flags(spec), *flags, *manifest.get("build", {}).get("srcFilter", [])])
    libcache.write_marker(lib_dir, key=key, name=LOCAL_LIB_NAME, manifest=manifest)


def c_bytes(data: bytes, per_line: int = 16) -> str:
    """Bytes as C initialiser lines: '  0x1c, 0x00, ...'."""
    lines = []
    for start in range(0, len(data), per_line):
        chunk = data[start:start + per_line]
        lines.append("  " + ", ".join(f"0x{b:02x}" for b in chunk) + ",")
    return "\n".join(lines)


class Templates:
    """templates/tflm/, with a user directory searched first (TEMPLATES/tflm/ then TEMPLATES/)."""

    def __init__(self, user_dir: Path | None) -> None:
        from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined

        search = []
        if user_dir is not None:
            user_dir = Path(user_dir)
            if not user_dir.is_dir():
                raise UserError(f"templates directory {user_dir} does not exist",
                                hint="fix the templates entry of the project config")
            search += [str(user_dir / "tflm"), str(user_dir)]
        search.append(str(default_templates_dir() / "tflm"))
        self.env = Environment(loader=ChoiceLoader([FileSystemLoader(search)]), undefined=StrictUndefined,
                               keep_trailing_newline=True)

    def render(self, template: str, /, **values: object) -> str:
        from jinja2 import TemplateError

        try:
            return self.env.get_template(template).render(**values)
        except TemplateError as err:
            raise UserError(f"template {template}: {err}",
                            hint="docs/tflm.md lists the variables each template receives") from None
