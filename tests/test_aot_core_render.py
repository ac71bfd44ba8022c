"""Constant folding, the render step and the `deploy render` command for the aot runtime."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from aotutil import assert_bitexact_with_tflm, random_inputs
from aotutil_builder import OpSpec, TensorSpec, write_tflite
from tinydeploy.aot.fold import fold_constants
from tinydeploy.boards import get_board
from tinydeploy.cli import main as deploy
from tinydeploy.model.graph import load_model


def _shape_subgraph_model() -> Path:
    """x (1,4,6) -> RESHAPE to [SHAPE(x)[0], 24], the shape computed by SHAPE/STRIDED_SLICE/PACK, -> FC."""
    rng = np.random.default_rng(3)
    t = [
        TensorSpec((1, 4, 6), "int8", scale=0.05, zero_point=2, name="x"),                     # 0
        TensorSpec((3,), "int32", name="shape_of_x"),                                           # 1
        TensorSpec((1,), "int32", data=np.array([0], np.int32)),                                # 2 begin
        TensorSpec((1,), "int32", data=np.array([1], np.int32)),                                # 3 end
        TensorSpec((1,), "int32", data=np.array([1], np.int32)),                                # 4 strides
        TensorSpec((), "int32", name="batch"),                                                  # 5
        TensorSpec((), "int32", data=np.array(24, np.int32)),                                   # 6
        TensorSpec((2,), "int32", name="new_shape"),                                            # 7
        TensorSpec((1, 24), "int8", scale=0.05, zero_point=2, name="flat"),                     # 8
        TensorSpec((5, 24), "int8", data=rng.integers(-127, 128, (5, 24)), scale=0.02),         # 9
        TensorSpec((1, 5), "int8", scale=0.3, zero_point=-4, name="logits"),                    # 10
    ]
    ops = [
        OpSpec("SHAPE", [0], [1]),
        OpSpec("STRIDED_SLICE", [1, 2, 3, 4], [5], {"shrink_axis_mask": 1}),
        OpSpec("PACK", [5, 6], [7], {"values_count": 2, "axis": 0}),
        OpSpec("RESHAPE", [0, 7], [8]),
        OpSpec("FULLY_CONNECTED", [8, 9], [10]),
    ]
    return write_tflite(t, ops, [0], [10])


def test_shape_subgraph_folds_to_nothing_and_stays_exact() -> None:
    path = _shape_subgraph_model()
    folded = fold_constants(load_model(path))
    assert folded.folded == [0, 1, 2]
    assert folded.model.tensors[7].data.tolist() == [1, 24]
    native = assert_bitexact_with_tflm(path, random_inputs(path, 10))
    program = native.program
    assert program.folded_ops == [0, 1, 2]
    body = program.files["model.c"].split("int model_invoke(void)")[1]
    assert "#0 SHAPE" not in body and "PACK" not in body and "td_fully_connected_s8" in body
    assert "TD_OFF_T1 " not in program.files["model.c"]  # the shape tensors take no arena bytes
    assert program.arena_bytes <= 48


def test_dead_ops_are_dropped() -> None:
    t = [TensorSpec((1, 8), "int8", scale=0.1), TensorSpec((1, 8), "int8", scale=0.2, zero_point=1),
         TensorSpec((1, 8), "int8", scale=0.3)]
    ops = [OpSpec("QUANTIZE", [0], [1]), OpSpec("QUANTIZE", [0], [2])]
    path = write_tflite(t, ops, [0], [1])
    native = assert_bitexact_with_tflm(path, random_inputs(path, 5))
    assert native.program.dead_ops == [1] and native.program.op_count == 1


def test_render_aot_writes_project_and_report(tmp_path: Path) -> None:
    from tinydeploy.render.aot import render_aot

    result = render_aot(_shape_subgraph_model(), get_board("qemu-m4"), tmp_path / "proj")
    root = result.project_dir
    assert (root / "platformio.ini").exists()
    for rel in ("src/model.c", "src/model.h", "src/td_runtime_aot.c", "src/aot/kernels/td_fixedpoint.h",
                "include/td_runtime.h"):
        assert (root / rel).exists(), rel
    assert any((root / "src/aot/kernels").glob("fully_connected_s8*.c"))
    assert not (root / "src/aot/kernels/conv2d_s8.c").exists()  # only the kernels this model needs
    report = json.loads((root / "render_report.json").read_text())
    assert report["arena_bytes"] == result.arena_bytes and report["ops_folded"] == 3
    assert "memory plan" in (root / "render_report.txt").read_text()
    # rendering again changes nothing
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file() and "render_report" not in p.name}
    render_aot(_shape_subgraph_model(), get_board("qemu-m4"), tmp_path / "proj")
    after = {p: p.stat().st_mtime_ns for p in before}
    assert before == after


def test_render_aot_for_an_arduino_board(tmp_path: Path) -> None:
    from tinydeploy.render.aot import render_aot

    board = next(b for b in ("nano33", "nucleo-f446re", "pico") if _has_board(b))
    root = render_aot(_shape_subgraph_model(), get_board(board), tmp_path / "ard").project_dir
    assert (root / "src/sketch.cpp").exists() and (root / "src/arduino_platform.cpp").exists()
    assert not (root / "src/platform").exists()
    assert "TD_HARNESS_NO_MAIN" in (root / "platformio.ini").read_text()


def test_deploy_render_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = deploy(["render", str(_shape_subgraph_model()), "--runtime", "aot", "--board", "qemu-m0plus"
                     if _has_board("qemu-m0plus") else "qemu-m3", "-o", str(tmp_path / "p"), "--json"])
    assert status == 0
    data = json.loads(capsys.readouterr().out)
    assert data["runtime"] == "aot" and data["arena_bytes"] > 0 and data["ops_folded"] == 3


def test_deploy_render_unsupported_op_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    t = [TensorSpec((1, 8), "float32", name="in"), TensorSpec((1, 8, 8), "float32", name="dense/MatrixDiag")]
    path = write_tflite(t, [OpSpec("MATRIX_DIAG", [0], [1])], [0], [1])  # TFLM lacks it too
    status = deploy(["render", str(path), "--board", "qemu-m4", "-o", str(tmp_path / "p")])
    err = capsys.readouterr().err
    assert status == 2
    assert "MATRIX_DIAG" in err and "dense/MatrixDiag" in err and "--runtime tflm" in err and "Traceback" not in err


def _has_board(name: str) -> bool:
    try:
        get_board(name)
        return True
    except Exception:
        return False
