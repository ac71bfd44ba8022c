"""int32 ADD / SUB / MUL on aot, bit-exact with the TFLite Micro interpreter on the native build.

TFLM's int32 kernels, as measured on its host interpreter: overflow wraps; SUB and MUL clamp to the fused
activation (RELU: [0, max], RELU6: [0, 6], RELU_N1_TO_1: [-1, 1]); ADD ignores the fused activation.  One
model holds every op x activation with broadcasting and values at the int32 extremes; a tf.while_loop whose
body holds a tf.cond (the converter adds an int32 loop counter: an int32 ADD) runs exact too.
"""

from __future__ import annotations

import numpy as np

from aotutil import assert_bitexact_with_tflm
from aotutil_builder import ModelCases, OpSpec
from test_aot_ops_variables import _convert_module
from tinydeploy.model.graph import load_model, parse_subgraph

ACTIVATIONS = ["NONE", "RELU", "RELU6", "RELU_N1_TO_1"]
SHAPES = [((2, 3, 4), (2, 3, 4)), ((2, 3, 4), (4,)), ((1, 5), (3, 1))]


class Cases(ModelCases):
    def op(self, opcode: str, a: int, b: int, out: int, options: dict) -> None:
        self.ops.append(OpSpec(opcode, [a, b], [out], options))
        self.inputs.extend([a, b])
        self.outputs.append(out)


def _values(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Small values, large ones and the extremes, so sums and products overflow."""
    pool = np.array([0, 1, -1, 2, 6, 7, -7, 65536 * 3, -(1 << 31), (1 << 31) - 1, 1 << 30], dtype=np.int64)
    mixed = np.where(rng.random(shape) < 0.4, rng.choice(pool, size=shape),
                     rng.integers(-(1 << 31), 1 << 31, size=shape))
    return mixed.astype(np.int32)


def test_int32_add_sub_mul_wrap_and_clamp_like_tflm() -> None:
    c = Cases()
    for opcode in ("ADD", "SUB", "MUL"):
        for act in ACTIVATIONS:
            for sa, sb in SHAPES:
                out_shape = np.broadcast_shapes(sa, sb)
                a, b = c.activation(sa, "int32"), c.activation(sb, "int32")
                c.op(opcode, a, b, c.activation(out_shape, "int32"), {"fused_activation_function": act})
    path = c.write()
    rng = np.random.default_rng(5)
    samples = [[_values(rng, (3, *c.tensors[i].shape)) for i in c.inputs]]
    assert_bitexact_with_tflm(path, samples[0])


def _loop_with_cond_module():
    import tensorflow as tf

    class LoopWithCond(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec((1, 4), tf.float32)])
        def __call__(self, x):
            def body(y, s):
                y = tf.cond(tf.reduce_max(y) > 4.0, lambda: y * 0.5 + 1.0, lambda: tf.math.abs(y) * 1.5 + 0.25)
                return y, s + tf.reduce_max(y, axis=-1, keepdims=True)

            return tf.while_loop(lambda y, s: tf.reduce_sum(y) < 30.0, body, [x, tf.zeros([1, 1])],
                                 maximum_iterations=12)

    return LoopWithCond()


def test_while_loop_holding_a_cond_runs_exact() -> None:
    path = _convert_module(_loop_with_cond_module, "loop-cond-v1")
    model = load_model(path)
    ops = {(op.opcode, model_i.tensors[op.outputs[0]].dtype) for i in range(model.num_subgraphs)
           for model_i in [parse_subgraph(model, i)] for op in model_i.operators if op.outputs}
    assert {"WHILE", "IF"} <= {code for code, _ in ops} and ("ADD", "int32") in ops, ops
    rng = np.random.default_rng(3)
    x = rng.uniform(-2, 3, size=(8, 4)).astype(np.float32)
    x[0] = 20.0
    assert_bitexact_with_tflm(path, [x])
