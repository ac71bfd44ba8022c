"""The malformed-model reproducers of issue 16's campaign, one test each: every mutant of a small self-built
int8 CNN (Conv2D -> DepthwiseConv2D -> Reshape -> Dense) is refused with one error line and exit status 2
by `deploy inspect`, `deploy render --runtime aot`, `deploy render --runtime tflm` and `deploy run --board
native` — before any code is generated, nothing written past a buffer, no traceback.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

import aotutil_builder
from aotutil_builder import TensorSpec
from test_fuzz_models import Spec, conv_dw_dense_int8
from tinydeploy import cli


def _batch_2_depthwise_output(s: Spec) -> None:  # used to write 8,000 B past the arena, and PASS
    s.tensors[6].shape = (2, 4, 4, 4)


def _output_declared_2x10(s: Spec) -> None:  # the Dense writes 10 bytes of a 20-byte output: used to PASS
    s.tensors[9].shape = (2, 10)


def _dynamic_input_dim(s: Spec) -> None:  # became `-64u` in model.c
    s.tensors[0].shape = (-1, 8, 8, 1)


def _dynamic_inner_dim(s: Spec) -> None:
    s.tensors[0].shape = (1, -1, 8, 1)


def _negative_operand(s: Spec) -> None:  # picked tensors[-2] by Python's negative indexing
    s.ops[3].inputs[1] = -2


def _operand_past_the_end(s: Spec) -> None:
    s.ops[1].inputs[0] = len(s.tensors) + 3


def _subgraph_input_out_of_range(s: Spec) -> None:
    s.inputs[0] = 99


def _subgraph_output_negative(s: Spec) -> None:
    s.outputs[0] = -3


def _unknown_tensor_type(s: Spec) -> None:
    s.tensors[3].dtype = "mystery"  # type code 99, registered by the test below


def _constant_shorter_than_shape(s: Spec) -> None:
    s.tensors[8].data = np.zeros(10, np.int8)  # (10, 64) int8 declared: 640 bytes


def _nan_scale(s: Spec) -> None:
    s.tensors[3].scale = float("nan")


def _inf_scale(s: Spec) -> None:
    s.tensors[9].scale = float("inf")


def _zero_scale(s: Spec) -> None:
    s.tensors[6].scale = 0.0


def _zero_weight_scale(s: Spec) -> None:
    s.tensors[1].scale = [0.01, 0.0, 0.015, 0.03]


def _cycle(s: Spec) -> None:  # the Conv reads what the Depthwise after it writes, which reads the Conv's output
    s.tensors[6].shape = (1, 4, 4, 4)
    s.ops[0].inputs[0] = 6


def _conv_filter_rank_3(s: Spec) -> None:  # found by the fuzzer (seed 3): inspect's MAC count unpacked 4 dims
    s.tensors[1].shape = (4, 3, 3)


def _output_nobody_writes(s: Spec) -> None:
    s.tensors.append(TensorSpec((1, 10), "int8", scale=0.1, name="orphan"))
    s.outputs.append(len(s.tensors) - 1)


MUTANTS: dict[str, tuple[Callable[[Spec], None], str]] = {
    "batch_2_depthwise_output": (_batch_2_depthwise_output, "dw/out"),
    "output_declared_2x10": (_output_declared_2x10, "dense/out"),
    "dynamic_input_dim": (_dynamic_input_dim, "input"),
    "dynamic_inner_dim": (_dynamic_inner_dim, "input"),
    "negative_operand": (_negative_operand, "-2"),
    "operand_past_the_end": (_operand_past_the_end, "13"),
    "subgraph_input_out_of_range": (_subgraph_input_out_of_range, "99"),
    "subgraph_output_negative": (_subgraph_output_negative, "-3"),
    "unknown_tensor_type": (_unknown_tensor_type, "99"),
    "constant_shorter_than_shape": (_constant_shorter_than_shape, "dense/w"),
    "nan_scale": (_nan_scale, "conv/Relu"),
    "inf_scale": (_inf_scale, "dense/out"),
    "zero_scale": (_zero_scale, "dw/out"),
    "zero_weight_scale": (_zero_weight_scale, "conv/w"),
    "cycle": (_cycle, "cycle"),
    "output_nobody_writes": (_output_nobody_writes, "orphan"),
    "conv_filter_rank_3": (_conv_filter_rank_3, "conv/w"),
}


# Consistent as a file, wrong for the kernel that writes the tensor: the per-kernel bounds rules refuse them.
KERNEL_SHAPE_MUTANTS = {"batch_2_depthwise_output", "output_declared_2x10"}


@pytest.fixture
def mystery_type(monkeypatch):
    monkeypatch.setitem(aotutil_builder._TYPE_CODES, "mystery", 99)


def _write(tmp_path: Path, mutate: Callable[[Spec], None]) -> Path:
    spec = copy.deepcopy(conv_dw_dense_int8())
    mutate(spec)
    path = tmp_path / "mutant.tflite"
    path.write_bytes(spec.build())
    return path


def _commands(model: Path, out: Path) -> list[list[str]]:
    return [["inspect", str(model)],
            ["render", str(model), "--board", "native", "--runtime", "aot", "-o", str(out / "aot")],
            ["render", str(model), "--board", "nano33", "--runtime", "tflm", "--arena-bytes", "65536",
             "-o", str(out / "tflm")],
            ["run", str(model), "--board", "native", "-n", "2", "--no-litert"]]


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_malformed_model_is_one_error_line_everywhere(name: str, tmp_path: Path, mystery_type,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    mutate, named = MUTANTS[name]
    model = _write(tmp_path, mutate)
    for argv in _commands(model, tmp_path):
        if name in KERNEL_SHAPE_MUTANTS and argv[0] == "inspect":
            continue
        status = cli.main(argv)
        err = capsys.readouterr().err
        lines = err.strip().splitlines()
        assert status == 2, (argv[:1], err)
        assert "Traceback" not in err and lines[0].startswith("error: "), err
        assert named in err, (argv[:1], err)
        assert not (tmp_path / "aot" / "src").exists() or argv[0] != "render"  # nothing generated


def test_the_unmutated_model_passes_all_four(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The control: the same model unmutated renders and runs exact on native."""
    model = _write(tmp_path, lambda s: None)
    for argv in _commands(model, tmp_path):
        assert cli.main(argv) == 0, capsys.readouterr().err


@pytest.mark.parametrize(("labels", "message"), [
    (np.array(["cat", "dog", "cat"]), "the labels are strings (e.g. 'cat'), not class indices"),
    (np.array([1.5, 2.0, 3.0]), "labels of shape (3,) do not fit output 'dense/out'"),
    (np.array([1, 10, 2]), "class index 10 is out of range: output 'dense/out' has 10 classes (0..9)"),
    (np.array([1, -1, 2]), "class index -1 is out of range"),
    (np.full((3, 10), np.nan), "the labels hold NaN or infinite values"),
    (np.array([1, "a", None], dtype=object), "the labels are Python objects"),
])
def test_bad_labels_are_one_user_error(tmp_path: Path, labels: np.ndarray, message: str) -> None:
    """The campaign's string / float / out-of-range labels (verify --labels): a UserError, not a traceback."""
    from tinydeploy.errors import UserError
    from tinydeploy.model.graph import load_model
    from tinydeploy.verify.inputs import load_labels

    model = load_model(_write(tmp_path, lambda s: None))
    path = tmp_path / "labels.npy"
    np.save(path, labels, allow_pickle=True)
    with pytest.raises(UserError) as err:
        load_labels(path, model, 3)
    assert message in str(err.value)


def _shape_op(opcode: str, x: tuple, consts: list[np.ndarray], ys: list[tuple], options: dict | None = None,
              const_first: bool = False) -> Spec:
    """One shape op on an int8 input: x, constant operands, outputs as given (declared, possibly wrong)."""
    from aotutil_builder import OpSpec

    t = [TensorSpec(x, "int8", scale=0.1, name="x")]
    t += [TensorSpec(c.shape, "int32", data=c, name=f"c{k}") for k, c in enumerate(consts)]
    t += [TensorSpec(y, "int8", scale=0.1, name=f"y{k}") for k, y in enumerate(ys)]
    ins = list(range(1, 1 + len(consts)))
    ins = [*ins, 0] if const_first else [0, *ins]
    outs = list(range(1 + len(consts), len(t)))
    return Spec(t, [OpSpec(opcode, ins, outs, options or {})], [0], outs)


I32 = lambda *v: np.array(v, np.int32)  # noqa: E731
SHAPE_OP_MUTANTS = {  # each declares an output its kernel would not fill exactly (or reads outside its input)
    "slice_past_the_end": _shape_op("SLICE", (1, 8), [I32(0, 4), I32(1, 6)], [(1, 6)]),
    "strided_slice_wrong_output": _shape_op("STRIDED_SLICE", (1, 8), [I32(0, 0), I32(1, 8), I32(1, 2)], [(1, 8)]),
    "split_wrong_output": _shape_op("SPLIT", (1, 8), [I32(1)], [(1, 4), (2, 4)], {"num_splits": 2}, True),
    "split_v_sizes_too_big": _shape_op("SPLIT_V", (1, 8), [I32(3, 9), I32(1)], [(1, 3), (1, 9)], {"num_splits": 2}),
    "tile_wrong_output": _shape_op("TILE", (1, 8), [I32(2, 1)], [(1, 8)]),
    "gather_constant_index_outside": _shape_op("GATHER", (1, 8), [I32(0, 9)], [(1, 2)], {"axis": 1}),
    "depth_to_space_wrong_output": _shape_op("DEPTH_TO_SPACE", (1, 2, 2, 8), [], [(1, 4, 4, 4)], {"block_size": 2}),
    "resize_wrong_output": _shape_op("RESIZE_NEAREST_NEIGHBOR", (1, 2, 2, 1), [I32(4, 4)], [(1, 4, 8, 1)]),
    "pack_wrong_output": _shape_op("PACK", (1, 8), [], [(2, 1, 8)], {"values_count": 1, "axis": 0}),
    "arg_max_wrong_output": _shape_op("ARG_MAX", (1, 8), [I32(1)], [(1, 8)]),
}


@pytest.mark.parametrize("name", sorted(SHAPE_OP_MUTANTS))
def test_shape_op_with_a_wrong_declared_shape_is_refused_before_codegen(name: str, tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "shape_op.tflite"
    path.write_bytes(SHAPE_OP_MUTANTS[name].build())
    status = cli.main(["render", str(path), "--board", "native", "-o", str(tmp_path / "p")])
    err = capsys.readouterr().err
    assert status == 2 and "Traceback" not in err, err
    assert "outside its tensors, so no code is generated" in err or "not supported" in err, err
    assert "not supported" not in err, err  # the bounds rule, not a missing lowering, refused it


def test_a_tensor_name_with_control_characters_stays_one_line_and_builds(tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """The fuzzer's find: a flipped string length makes a name run into binary data (newlines, NULs, quotes);
    errors printed it over many lines and model.c carried it into a C string literal that no longer closed."""
    nasty = 'in"put\n\x00*/\\x\u2028end'

    def named(s: Spec) -> None:
        s.tensors[0].name = nasty
        s.tensors[9].name = nasty + "/out"

    model = _write(tmp_path, named)
    assert cli.main(["run", str(model), "--board", "native", "-n", "2", "--no-litert"]) == 0, capsys.readouterr().err

    def broken(s: Spec) -> None:
        named(s)
        s.tensors[9].shape = (2, 10)

    model = _write(tmp_path, broken)
    assert cli.main(["render", str(model), "--board", "native", "-o", str(tmp_path / "p")]) == 2
    err = capsys.readouterr().err
    assert "\\x0a" in err and "\\x00" in err and len(err.strip().splitlines()) == 2  # error + hint
