"""aot IF (tf.cond) and WHILE (tf.while_loop) through the converter, bit-exact with the TFLite Micro
interpreter on the native build.

The subgraphs are spliced into model_invoke as if / else and for (;;) (aot/ops/control_flow.py).  A
tf.Module whose tf.function takes data-dependent branches, one holding a nested tf.cond, converted float32
(inputs chosen so that every branch runs; the full-int8 conversion, int8=True, was exact too, kept out of
the default run for test time); a data-dependent tf.while_loop of two loop
variables (0 to ~10 iterations).  Mutants whose branch output
or loop variable no longer matches are refused before codegen; variables inside a branch are refused.
"""

from __future__ import annotations

import numpy as np
import pytest

from aotutil import assert_bitexact_with_tflm, build_native
from test_aot_ops_variables import _convert_module, _mutated
from tinydeploy.model.graph import load_model

SHAPE = (1, 6)


def _branchy_module():
    import tensorflow as tf

    class Branchy(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec(SHAPE, tf.float32)])
        def __call__(self, x):
            total = tf.reduce_sum(x)

            def positive():
                inner = tf.cond(tf.reduce_max(x) > 1.0, lambda: tf.nn.relu(x - 1.0) * 3.0, lambda: x * x)
                return inner + 0.5, tf.reduce_mean(x, axis=-1, keepdims=True)

            def negative():
                return tf.math.abs(x) - 2.0, tf.reduce_max(x, axis=-1, keepdims=True)

            y, z = tf.cond(total > 0.0, positive, negative)
            return y * 0.75, z

    return Branchy()


def _inputs(count: int, int8: bool) -> np.ndarray:
    rng = np.random.default_rng(29)
    x = rng.uniform(-1.5, 1.5, size=(count, *SHAPE[1:])).astype(np.float32)
    x[0] = np.abs(x[0]) + 1.2  # then branch, inner then
    x[1] = np.abs(x[1]) * 0.5  # then branch, inner else
    x[2] = -np.abs(x[2])  # else branch
    if int8:
        return np.clip(np.round(x / 0.02), -128, 127).astype(np.int8)
    return x


@pytest.mark.parametrize("int8", [False])  # int8 (full-integer PTQ) also exact, on native and qemu-m4; left out for time
def test_if_branches_exact_like_tflm(int8: bool) -> None:
    path = _convert_module(_branchy_module, f"branchy-{int8}-v1", int8_shape=SHAPE if int8 else None)
    model = load_model(path)
    assert "IF" in model.op_names and model.num_subgraphs >= 4, (model.op_names, model.num_subgraphs)
    native = assert_bitexact_with_tflm(path, [_inputs(10, int8)])
    code = native.program.files["model.c"]
    assert code.count("IF: then branch") >= 2 and "IF: else branch" in code  # the nested IF spliced too

    from tinydeploy.aot.codegen import lowering_problems

    assert lowering_problems(model) == (None, {})


def test_if_branch_of_another_size_refused_before_codegen() -> None:
    from tinydeploy.errors import UserError

    path = _convert_module(_branchy_module, "branchy-False-v1")

    def edit(model: object) -> None:  # an else-branch output of 7 values for the IF's 6
        main = model.subgraphs[0]  # type: ignore[attr-defined]
        if_op = next(o for o in main.operators if hasattr(o.builtinOptions, "elseSubgraphIndex"))
        branch = model.subgraphs[if_op.builtinOptions.elseSubgraphIndex]  # type: ignore[attr-defined]
        out = branch.tensors[branch.outputs[0]]
        out.shape = np.array([1, 7], np.int32) if len(out.shape) == 2 else np.array([7], np.int32)

    with pytest.raises(UserError, match="outside its tensors") as err:
        build_native(_mutated(path, edit, "if-size"))
    assert len(str(err.value).splitlines()) <= 2


def _loop_module():
    import tensorflow as tf

    class Loop(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec((1, 4), tf.float32)])
        def __call__(self, x):
            def body(y, s):  # (a tf.cond here makes the converter add an int32 counter: test_aot_ops_int32_arith)
                return tf.math.abs(y) * 1.5 + 0.25, s + tf.reduce_max(y, axis=-1, keepdims=True)

            return tf.while_loop(lambda y, s: tf.reduce_sum(y) < 50.0, body, [x, tf.zeros([1, 1])])

    return Loop()


def test_while_loop_exact_like_tflm() -> None:
    path = _convert_module(_loop_module, "loop-v2")
    model = load_model(path)
    assert "WHILE" in model.op_names, model.op_names
    rng = np.random.default_rng(31)
    x = rng.uniform(-2, 3, size=(10, 4)).astype(np.float32)
    x[0] = 20.0  # cond false at once: the outputs are the inputs
    x[1] = -0.01  # many iterations
    native = assert_bitexact_with_tflm(path, [x])
    code = native.program.files["model.c"]
    assert "for (;;) { /* WHILE */" in code
    outs = native.run([x[0:1]])  # no iteration: y is the input, the sum still 0
    assert next(o for o in outs if o.size == 4).reshape(-1).tolist() == x[0].tolist()
    assert next(o for o in outs if o.size == 1).reshape(-1).tolist() == [0.0]


def test_while_loop_variable_of_another_size_refused_before_codegen() -> None:
    from tinydeploy.errors import UserError

    path = _convert_module(_loop_module, "loop-v2")

    def edit(model: object) -> None:  # the body's first output of 5 values for a 4-value loop variable
        main = model.subgraphs[0]  # type: ignore[attr-defined]
        while_op = next(o for o in main.operators if hasattr(o.builtinOptions, "bodySubgraphIndex"))
        body = model.subgraphs[while_op.builtinOptions.bodySubgraphIndex]  # type: ignore[attr-defined]
        body.tensors[body.outputs[0]].shape = np.array([1, 5], np.int32)

    with pytest.raises(UserError, match="outside its tensors") as err:
        build_native(_mutated(path, edit, "while-size"))
    assert len(str(err.value).splitlines()) <= 2
