"""The static memory planner: no two simultaneously live buffers share a byte; aliases and in-place reuse
cost nothing; scratch lives only during its op; the arena is as small as the peak of live bytes on simple
graphs; a bare Model (no lowering info) plans too."""

from __future__ import annotations

import numpy as np
import pytest

from aotutil_builder import OpSpec, TensorSpec, build_tflite
from tinydeploy.model.graph import Model, parse_model
from tinydeploy.plan.memory import Scratch, check_plan, plan_memory


def _model(tensors: list[TensorSpec], ops: list[OpSpec], inputs: list[int], outputs: list[int]) -> Model:
    return parse_model(build_tflite(tensors, ops, inputs, outputs))


def _act(n: int) -> TensorSpec:
    return TensorSpec((1, n), "int8", scale=0.1)


def _random_graph(rng: np.random.Generator, n_ops: int) -> Model:
    """A random DAG of ADD/RELU/RESHAPE ops over int8 tensors of random sizes (the ops need not be valid
    for a runtime; the planner only reads the graph)."""
    tensors = [_act(int(rng.integers(1, 3000)))]
    ops: list[OpSpec] = []
    live = [0]
    for _ in range(n_ops):
        kind = rng.integers(0, 3)
        if kind == 0 and len(live) >= 2:
            a, b = rng.choice(live, 2, replace=False)
            tensors.append(_act(int(rng.integers(1, 3000))))
            ops.append(OpSpec("ADD", [int(a), int(b)], [len(tensors) - 1]))
        elif kind == 1:
            src = int(rng.choice(live))
            tensors.append(TensorSpec(tensors[src].shape, "int8", scale=0.1))
            ops.append(OpSpec("RESHAPE", [src], [len(tensors) - 1]))
        else:
            src = int(rng.choice(live))
            tensors.append(_act(int(rng.integers(1, 3000))))
            ops.append(OpSpec("RELU", [src], [len(tensors) - 1]))
        live.append(len(tensors) - 1)
        if len(live) > 4:
            live.pop(int(rng.integers(0, len(live) - 1)))
    return _model(tensors, ops, [0], [live[-1]])


@pytest.mark.parametrize("seed", range(40))
def test_random_graphs_never_overlap(seed: int) -> None:
    rng = np.random.default_rng(seed)
    model = _random_graph(rng, int(rng.integers(1, 30)))
    inplace = [(op.index, op.inputs[0], op.outputs[0]) for op in model.operators if op.opcode == "RELU"
               and model.tensors[op.inputs[0]].nbytes >= model.tensors[op.outputs[0]].nbytes]
    scratch = [Scratch(op.index, "s0", int(rng.integers(1, 500))) for op in model.operators if rng.random() < 0.3]
    plan = plan_memory(model, inplace=inplace, scratch=scratch)
    check_plan(plan)
    # every tensor is placed, and each tensor's own lifetime is inside its buffer's
    for t, first in plan.first_use.items():
        buf = next(b for b in plan.buffers if t in b.tensors)
        assert buf.first <= first and plan.last_use[t] <= buf.last
        assert buf.nbytes >= model.tensors[t].nbytes
    # the arena is at least the peak of simultaneously live bytes, and far below no-reuse on long chains
    peak = max(sum(b.nbytes for b in plan.buffers if b.first <= step <= b.last)
               for step in range(-1, len(model.operators)))
    assert plan.arena_bytes >= peak
    assert plan.arena_bytes <= plan.naive_bytes


def test_chain_reuses_memory_at_peak() -> None:
    """x -> relu -> relu -> relu: two buffers suffice (ping-pong), each 1 KiB."""
    tensors = [_act(1024) for _ in range(4)]
    ops = [OpSpec("RELU", [i], [i + 1]) for i in range(3)]
    plan = plan_memory(_model(tensors, ops, [0], [3]))
    check_plan(plan)
    assert plan.arena_bytes == 2048


def test_inplace_and_alias_share_bytes() -> None:
    tensors = [_act(1024), _act(1024), TensorSpec((1, 32, 32), "int8", scale=0.1), _act(1024)]
    ops = [OpSpec("RELU", [0], [1]), OpSpec("RESHAPE", [1], [2]), OpSpec("RELU", [2], [3])]
    model = _model(tensors, ops, [0], [3])
    plan = plan_memory(model, inplace=[(0, 0, 1), (2, 2, 3)], aliases=[(1, 1, 2)])
    check_plan(plan)
    assert plan.arena_bytes == 1024
    assert len({plan.offsets[t] for t in range(4)}) == 1


def test_inplace_refused_when_source_lives_on() -> None:
    """relu(x) in place is wrong when x is read again later (here by the ADD)."""
    tensors = [_act(512), _act(512), _act(512)]
    ops = [OpSpec("RELU", [0], [1]), OpSpec("ADD", [0, 1], [2])]
    plan = plan_memory(_model(tensors, ops, [0], [2]), inplace=[(0, 0, 1)])
    check_plan(plan)
    assert plan.offsets[0] != plan.offsets[1]


def test_model_output_not_overwritten_in_place() -> None:
    tensors = [_act(256), _act(256), _act(256)]
    ops = [OpSpec("RELU", [0], [1]), OpSpec("RELU", [1], [2])]
    plan = plan_memory(_model(tensors, ops, [0], [1, 2]), inplace=[(1, 1, 2)])
    check_plan(plan)
    assert plan.offsets[1] != plan.offsets[2]


def test_scratch_only_during_its_op() -> None:
    tensors = [_act(100), _act(100), _act(100)]
    ops = [OpSpec("RELU", [0], [1]), OpSpec("RELU", [1], [2])]
    plan = plan_memory(_model(tensors, ops, [0], [2]), scratch=[Scratch(0, "s0", 4000), Scratch(1, "s0", 4000)])
    check_plan(plan)
    assert plan.scratch_offsets[(0, "s0")] == plan.scratch_offsets[(1, "s0")]  # not live together: shared
    assert plan.arena_bytes <= 4000 + 2 * 112


def test_bare_model_aliases_reshape_and_prints_a_table() -> None:
    tensors = [TensorSpec((1, 64), "int8", scale=0.1, name="input_x"),
               TensorSpec((1, 8, 8), "int8", scale=0.1, name="reshaped"), _act(64)]
    ops = [OpSpec("RESHAPE", [0], [1]), OpSpec("RELU", [1], [2])]
    model = _model(tensors, ops, [0], [2])
    plan = plan_memory(model)
    check_plan(plan)
    assert plan.offsets[0] == plan.offsets[1]
    table = plan.table()
    assert "arena: 128 bytes" in table and "input_x, reshaped" in table


# TFLM's arena (arena_used_bytes, reference kernels) for the zoo's int8 MLPerf Tiny models, measured on an
# emulated Cortex-M4; the aot plan must never need more.
TFLM_ARENA = {"ds_cnn": 22_772, "mobilenet_v1_025": 100_660, "resnet8": 54_340, "fc_autoencoder": 2_260}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TFLM_ARENA))
def test_zoo_arena_no_larger_than_tflm(name: str) -> None:
    from tinydeploy import zoo
    from tinydeploy.aot.codegen import generate
    from tinydeploy.model.graph import load_model

    model = load_model(zoo.tflite_model(name, "int8"))
    program = generate(model)
    check_plan(program.plan)
    assert program.arena_bytes <= TFLM_ARENA[name], program.plan.table()
    assert plan_memory(model).arena_bytes <= TFLM_ARENA[name]  # the bare-model plan `deploy inspect` shows
