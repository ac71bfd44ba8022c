"""EMBEDDING_LOOKUP, L2_POOL_2D, CUMSUM, MIRROR_PAD and REVERSE_V2 on the aot runtime, bit-exact with TFLite
Micro's host interpreter, in every type TFLM's kernels run them.

Models are written with the flatbuffer builder (the converter makes these ops only from particular TF
graphs); several ops of one family share a model so that one native build covers every option
(exclusive/reverse, REFLECT/SYMMETRIC, the types).  Inputs are random; ids stay inside the table.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from aotutil import assert_bitexact_with_tflm, build_native, random_inputs
from aotutil_builder import OpSpec, TensorSpec, write_tflite
from tinydeploy.aot.codegen import generate
from tinydeploy.aot.lowering import TargetFeatures
from tinydeploy.errors import UserError
from tinydeploy.model.graph import load_model

SAMPLES = 6


# --- EMBEDDING_LOOKUP ---------------------------------------------------------------------------------------


def embedding_model(rng: np.random.Generator) -> Path:
    """One ids input into three tables: float32 -> float32 (3-D rows), int8 -> int8, int8 -> float32 (hybrid)."""
    f_table = rng.normal(0, 1, (20, 4, 3)).astype(np.float32)
    q_table = rng.integers(-128, 128, (20, 8)).astype(np.int8)
    tensors = [TensorSpec((6,), "int32", name="ids"),
               TensorSpec(f_table.shape, "float32", data=f_table, name="f_table"),
               TensorSpec(q_table.shape, "int8", data=q_table, scale=0.1, zero_point=3, name="q_table"),
               TensorSpec(q_table.shape, "int8", data=q_table, scale=0.0173, zero_point=0, name="h_table"),
               TensorSpec((6, 4, 3), "float32", name="f_out"),
               TensorSpec((6, 8), "int8", scale=0.1, zero_point=3, name="q_out"),
               TensorSpec((6, 8), "float32", name="h_out")]
    ops = [OpSpec("EMBEDDING_LOOKUP", [0, 1], [4]), OpSpec("EMBEDDING_LOOKUP", [0, 2], [5]),
           OpSpec("EMBEDDING_LOOKUP", [0, 3], [6])]
    return write_tflite(tensors, ops, [0], [4, 5, 6])


def test_embedding_lookup_float_int8_and_hybrid_exact_with_tflm() -> None:
    path = embedding_model(np.random.default_rng(0))
    ids = np.random.default_rng(1).integers(0, 20, (SAMPLES, 6)).astype(np.int32)
    ids[0] = [0, 19, 19, 0, 5, 5]  # first and last rows, repeats
    native = assert_bitexact_with_tflm(path, [ids])
    # an id outside the table fails TFLM's inference; the aot code writes a zero row and reads nothing outside
    outs = native.run([np.array([3, 20, -1, 0, 0, 0], dtype=np.int32)])
    for out in outs:
        assert not out[1].any() and not out[2].any() and out[0].any()


# --- L2_POOL_2D ---------------------------------------------------------------------------------------------


def test_l2_pool_float32_exact_with_tflm() -> None:
    """SAME 3x2 windows at stride 2x1 with RELU6 (edge windows partly outside) and VALID 2x2 at stride 2."""
    tensors = [TensorSpec((1, 9, 7, 3), "float32", name="x"),
               TensorSpec((1, 5, 7, 3), "float32", name="same"),
               TensorSpec((1, 4, 3, 3), "float32", name="valid")]
    ops = [OpSpec("L2_POOL_2D", [0], [1], {"padding": "SAME", "stride_h": 2, "stride_w": 1, "filter_height": 3,
                                           "filter_width": 2, "fused_activation_function": "RELU6"}),
           OpSpec("L2_POOL_2D", [0], [2], {"padding": "VALID", "stride_h": 2, "stride_w": 2, "filter_height": 2,
                                           "filter_width": 2})]
    path = write_tflite(tensors, ops, [0], [1, 2])
    assert_bitexact_with_tflm(path, random_inputs(path, SAMPLES, seed=3))


# --- CUMSUM -------------------------------------------------------------------------------------------------

COMBOS = [(False, False), (True, False), (False, True), (True, True)]  # (exclusive, reverse)


def cumsum_model(dtype: str) -> Path:
    """Every exclusive/reverse combination along axis 1 and along axis -1 of one [2, 5, 4] input, and a
    [1, 40] input summed along its 40 values."""
    q_in = {"scale": 0.04, "zero_point": -9} if dtype == "int8" else {}
    q_out = {"scale": 0.11, "zero_point": 6} if dtype == "int8" else {}
    tensors = [TensorSpec((2, 5, 4), dtype, name="x", **q_in),
               TensorSpec((1,), "int32", data=np.array([1], dtype=np.int32), name="axis1"),
               TensorSpec((1,), "int32", data=np.array([-1], dtype=np.int32), name="axis_last")]
    ops, outputs = [], []
    for axis in (1, 2):
        for exclusive, reverse in COMBOS:
            outputs.append(len(tensors))
            tensors.append(TensorSpec((2, 5, 4), dtype, name=f"y{len(outputs)}", **q_out))
            ops.append(OpSpec("CUMSUM", [0, axis], [outputs[-1]], {"exclusive": exclusive, "reverse": reverse}))
    # a 40-long axis: int8 running sums of extreme codes pass 2^31 and wrap, as TFLM's int32 does on the host
    q_long = {"scale": 0.04, "zero_point": -128} if dtype == "int8" else {}
    tensors.append(TensorSpec((1, 40), dtype, name="long", **q_long))
    tensors.append(TensorSpec((1, 40), dtype, name="long_sum", **({"scale": 0.5} if dtype == "int8" else {})))
    ops.append(OpSpec("CUMSUM", [len(tensors) - 2, 1], [len(tensors) - 1]))
    return write_tflite(tensors, ops, [0, len(tensors) - 2], [*outputs, len(tensors) - 1])


@pytest.mark.parametrize("dtype", ["float32", "int8"])
def test_cumsum_exclusive_reverse_exact_with_tflm(dtype: str) -> None:
    path = cumsum_model(dtype)
    native = assert_bitexact_with_tflm(path, random_inputs(path, SAMPLES, seed=4))
    outs = native.run_batch(random_inputs(path, 3, seed=5, edges=False))
    assert not np.array_equal(outs[0], outs[1]) and not np.array_equal(outs[0], outs[2])


# --- MIRROR_PAD ---------------------------------------------------------------------------------------------


def mirror_pad_model() -> Path:
    """REFLECT and SYMMETRIC on a float32 and an int8 [1, 5, 4, 3] input, pads up to the limits, int32 and
    int64 paddings."""
    pads = np.array([[0, 0], [2, 4], [3, 1], [0, 2]])
    tensors = [TensorSpec((1, 5, 4, 3), "float32", name="xf"),
               TensorSpec((1, 5, 4, 3), "int8", scale=0.1, zero_point=-4, name="xq"),
               TensorSpec((4, 2), "int32", data=pads.astype(np.int32), name="pads32"),
               TensorSpec((4, 2), "int64", data=pads.astype(np.int64), name="pads64")]
    ops, outputs = [], []
    for x, dtype, q in ((0, "float32", {}), (1, "int8", {"scale": 0.1, "zero_point": -4})):
        for mode, pad_tensor in ((0, 2), (1, 3)):
            outputs.append(len(tensors))
            tensors.append(TensorSpec((1, 11, 8, 5), dtype, name=f"y{len(outputs)}", **q))
            ops.append(OpSpec("MIRROR_PAD", [x, pad_tensor], [outputs[-1]], {"mode": mode}))
    return write_tflite(tensors, ops, [0, 1], outputs)


def test_mirror_pad_reflect_symmetric_exact_with_tflm() -> None:
    path = mirror_pad_model()
    native = assert_bitexact_with_tflm(path, random_inputs(path, SAMPLES, seed=6))
    x = np.arange(5, dtype=np.float32)
    # numpy's reflect/symmetric padding is the same definition
    ref = native.run([np.broadcast_to(x.reshape(1, 5, 1, 1), (1, 5, 4, 3)), np.zeros((1, 5, 4, 3), np.int8)])
    assert ref[0][0, :, 0, 0].tolist() == np.pad(x, (2, 4), mode="reflect").tolist()
    assert ref[1][0, :, 0, 0].tolist() == np.pad(x, (2, 4), mode="symmetric").tolist()


# --- REVERSE_V2 ---------------------------------------------------------------------------------------------

REVERSE_CASES = [("float32", [1, 2]), ("int32", [0]), ("int16", [2]), ("int8", [0, 1]), ("uint8", [-1]),
                 ("int64", [1]), ("bool", [0, 1, 2])]


def test_reverse_v2_every_type_exact_with_tflm() -> None:
    """Each type TFLM reverses, on contiguous axis sets (what TFLM accepts) of a [2, 3, 4] input."""
    tensors, ops, inputs, outputs = [], [], [], []
    for dtype, axes in REVERSE_CASES:
        inputs.append(len(tensors))
        tensors.append(TensorSpec((2, 3, 4), dtype, name=f"x_{dtype}"))
        tensors.append(TensorSpec((len(axes),), "int32", data=np.array(axes, dtype=np.int32)))
        outputs.append(len(tensors))
        tensors.append(TensorSpec((2, 3, 4), dtype, name=f"y_{dtype}"))
        ops.append(OpSpec("REVERSE_V2", [inputs[-1], inputs[-1] + 1], [outputs[-1]]))
    path = write_tflite(tensors, ops, inputs, outputs)
    batches = random_inputs(path, SAMPLES, seed=7)
    batches[-1] = np.random.default_rng(8).integers(0, 2, batches[-1].shape).astype(bool)
    native = assert_bitexact_with_tflm(path, batches)
    outs = native.run_batch(batches)
    for (dtype, axes), x, y in zip(REVERSE_CASES, batches, outs):
        assert np.array_equal(y, np.flip(x, axis=tuple(a + 1 if a >= 0 else a for a in axes)))


def test_reverse_v2_non_contiguous_axes_run_as_numpy() -> None:
    """TFLM refuses axes {0, 2} at run time; the aot code reverses them as TensorFlow defines it."""
    tensors = [TensorSpec((2, 3, 4), "int8", scale=0.1, name="x"),
               TensorSpec((2,), "int32", data=np.array([0, 2], dtype=np.int32)),
               TensorSpec((2, 3, 4), "int8", scale=0.1, name="y")]
    path = write_tflite(tensors, [OpSpec("REVERSE_V2", [0, 1], [2])], [0], [2])
    x = np.arange(24, dtype=np.int8).reshape(1, 2, 3, 4)[0]
    assert np.array_equal(build_native(path).run([x])[0], np.flip(x, axis=(0, 2)))


# --- bounds -------------------------------------------------------------------------------------------------


def test_out_of_range_paddings_and_ids_are_refused_before_codegen() -> None:
    """REFLECT padding as wide as the axis (TFLM would read before the input) and constant ids past the
    table are one UserError each, no C generated."""
    too_wide = [TensorSpec((1, 4), "float32"), TensorSpec((2, 2), "int32", data=np.array([[0, 0], [4, 0]])),
                TensorSpec((1, 8), "float32")]
    bad_ids = [TensorSpec((2,), "int32", data=np.array([1, 7], dtype=np.int32)),
               TensorSpec((7, 3), "float32"), TensorSpec((2, 3), "float32")]
    for tensors, op, inputs in ((too_wide, OpSpec("MIRROR_PAD", [0, 1], [2], {"mode": 0}), [0]),
                                (bad_ids, OpSpec("EMBEDDING_LOOKUP", [0, 1], [2]), [1])):
        path = write_tflite(tensors, [op], inputs, [2])
        with pytest.raises(UserError, match="outside"):
            generate(load_model(path), TargetFeatures(cpu="host"))
