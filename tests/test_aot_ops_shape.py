"""aot data-movement ops bit-exact with the TFLite Micro interpreter: SLICE, SPLIT, SPLIT_V, PACK, UNPACK,
EXPAND_DIMS, DEPTH_TO_SPACE, SPACE_TO_DEPTH, SPACE_TO_BATCH_ND, BATCH_TO_SPACE_ND, BROADCAST_TO, ZEROS_LIKE,
FILL, GATHER and GATHER_ND, in int8, int16 and float32 where TFLM runs them.

Seeded random property tests in the style of test_aot_ops_elementwise: each model (written byte by byte,
aotutil_builder) holds a few dozen independent one-op cases side by side, so one native compile and one TFLM
run cover many random shapes, axes, blocks, paddings and indices.  TILE, which TFLM has no kernel for, is
checked against numpy; constant operands fold at generation time (no code).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from aotutil import assert_bitexact_with_tflm, build_native, random_inputs
from aotutil_builder import ModelCases, OpSpec
from tinydeploy.aot.codegen import generate
from tinydeploy.errors import UnsupportedOpError
from tinydeploy.model.graph import load_model

DTYPES = ["int8", "int16", "int32", "float32"]


class Cases(ModelCases):
    """Independent one-op cases accumulated side by side into one model (several outputs per op allowed)."""

    def op(self, opcode: str, inputs: list[int], outputs: list[int], options: dict | None = None,
           model_inputs: list[int] | None = None) -> None:
        self.ops.append(OpSpec(opcode, inputs, outputs, options or {}))
        self.inputs.extend(model_inputs if model_inputs is not None else [inputs[0]])
        self.outputs.extend(outputs)


def quant_for(dtype: str, rng: np.random.Generator) -> tuple[float, int] | None:
    """A random per-tensor quantization for int8 (any zero point) and int16 (zero point 0, as TFLM wants)."""
    if dtype == "float32":
        return None
    scale = float(np.exp(rng.uniform(np.log(1e-3), np.log(1.0))))
    return (scale, int(rng.integers(-128, 128)) if dtype == "int8" else 0)


def rand_shape(rng: np.random.Generator, rank: int, hi: int = 5) -> list[int]:
    return [int(rng.integers(1, hi + 1)) for _ in range(rank)]


AddCase = Callable[[Cases, np.random.Generator, str], None]


def run_cases(add_case: AddCase, dtype: str, seed: int, count: int = 16, samples: int = 4) -> Path:
    rng = np.random.default_rng(seed)
    c = Cases()
    for _ in range(count):
        add_case(c, rng, dtype)
    path = c.write()
    assert_bitexact_with_tflm(path, random_inputs(path, samples, seed=seed))
    return path


# --- cases ------------------------------------------------------------------------------------------------


def _slice(c: Cases, rng: np.random.Generator, dtype: str) -> None:
    shape = rand_shape(rng, int(rng.integers(1, 5)), 6)
    begin = [int(rng.integers(0, d)) for d in shape]
    size = [int(rng.integers(1, d - b + 1)) if rng.random() < 0.7 else -1 for d, b in zip(shape, begin)]
    out = [d - b if s == -1 else s for d, b, s in zip(shape, begin, size)]
    q = quant_for(dtype, rng)
    x, y = c.activation(shape, dtype, q), c.activation(out, dtype, q)
    c.op("SLICE", [x, c.const(begin), c.const(size)], [y])


def _split(c: Cases, rng: np.random.Generator, dtype: str) -> None:
    rank = int(rng.integers(1, 5))
    shape = rand_shape(rng, rank, 4)
    axis = int(rng.integers(-rank, rank))
    n = int(rng.integers(1, 4))
    shape[axis] *= n
    q = quant_for(dtype, rng)
    x = c.activation(shape, dtype, q)
    piece = list(shape)
    piece[axis] //= n
    outs = [c.activation(piece, dtype, q) for _ in range(n)]
    c.op("SPLIT", [c.const(np.array(axis)), x], outs, {"num_splits": n}, model_inputs=[x])


def _split_v(c: Cases, rng: np.random.Generator, dtype: str) -> None:
    rank = int(rng.integers(1, 5))
    shape = rand_shape(rng, rank, 4)
    axis = int(rng.integers(0, rank))
    sizes = [int(rng.integers(1, 4)) for _ in range(int(rng.integers(1, 4)))]
    shape[axis] = sum(sizes)
    given = list(sizes)
    if rng.random() < 0.3:
        given[int(rng.integers(0, len(given)))] = -1
    q = quant_for(dtype, rng)
    x = c.activation(shape, dtype, q)
    outs = []
    for s in sizes:
        piece = list(shape)
        piece[axis] = s
        outs.append(c.activation(piece, dtype, q))
    c.op("SPLIT_V", [x, c.const(given), c.const(np.array([axis]))], outs, {"num_splits": len(sizes)})


def _pack(c: Cases, rng: np.random.Generator, dtype: str) -> None:
    rank = int(rng.integers(1, 4))
    shape = rand_shape(rng, rank, 4)
    n = int(rng.integers(1, 4))
    axis = int(rng.integers(0, rank + 1))
    q = quant_for(dtype, rng)
    xs = [c.activation(shape, dtype, q) for _ in range(n)]
    out = list(shape)
    out.insert(axis, n)
    c.op("PACK", xs, [c.activation(out, dtype, q)], {"values_count": n, "axis": axis}, model_inputs=xs)


def _unpack(c: Cases, rng: np.random.Generator, dtype: str) -> None:
    rank = int(rng.integers(1, 5))
    shape = rand_shape(rng, rank, 4)
    axis = int(rng.integers(0, rank))
    q = quant_for(dtype, rng)
    x = c.activation(shape, dtype, q)
    piece = [d for k, d in enumerate(shape) if k != axis]
    outs = [c.activation(piece, dtype, q) for _ in range(shape[axis])]
    c.op("UNPACK", [x], outs, {"num": shape[axis], "axis": axis})


def _expand_dims(c: Cases, rng: np.random.Generator, dtype: str) -> None:
    rank = int(rng.integers(1, 4))
    shape = rand_shape(rng, rank, 4)
    axis = int(rng.integers(-rank - 1, rank + 1))
    out = list(shape)
    out.insert(axis if axis >= 0 else rank + 1 + axis, 1)
    q = quant_for(dtype, rng)
    x = c.activation(shape, dtype, q)
    y = c.activation(out, dtype, q)
    c.op("EXPAND_DIMS", [x, c.const(np.array([axis]))], [y])


def _depth_to_space(c: Cases, rng: np.random.Generator, dtype: str) -> None:
    b = int(rng.integers(1, 4))
    n, h, w, co = rand_shape(rng, 4, 3)
    q = quant_for(dtype, rng)
    x = c.activation([n, h, w, co * b * b], dtype, q)
    c.op("DEPTH_TO_SPACE", [x], [c.activation([n, h * b, w * b, co], dtype, q)], {"block_size": b})


def _space_to_depth(c: Cases, rng: np.random.Generator, dtype: str) -> None:
    b = int(rng.integers(1, 4))
    n, h, w, ch = rand_shape(rng, 4, 3)
    q = quant_for(dtype, rng)
    x = c.activation([n, h * b, w * b, ch], dtype, q)
    c.op("SPACE_TO_DEPTH", [x], [c.activation([n, h, w, ch * b * b], dtype, q)], {"block_size": b})


def _space_to_batch(c: Cases, rng: np.random.Generator, dtype: str, pad_free: bool = True) -> None:
    four = rng.random() < 0.75
    bh, bw = (int(rng.integers(1, 4)), int(rng.integers(1, 4))) if four else (1, int(rng.integers(1, 4)))
    n, ch = int(rng.integers(1, 3)), int(rng.integers(1, 4))
    ho, wo = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    pt, pl = int(rng.integers(0, bh)), int(rng.integers(0, bw))
    if pad_free:  # TFLM pads with a value it never initializes: only unpadded cases compare with it
        pt = pl = 0
    h = max(ho * bh - pt - (0 if pad_free else int(rng.integers(0, bh - pt))), 1)
    w = wo * bw - pl
    pb = ho * bh - h - pt
    pr = wo * bw - w - pl
    if pb < 0 or pr < 0 or w < 1:
        return
    q = quant_for(dtype, rng)
    if four:
        x = c.activation([n, h, w, ch], dtype, q)
        y = c.activation([n * bh * bw, ho, wo, ch], dtype, q)
        c.op("SPACE_TO_BATCH_ND", [x, c.const([bh, bw]), c.const([[pt, pb], [pl, pr]])], [y])
    else:
        x = c.activation([n, w, ch], dtype, q)
        y = c.activation([n * bw, wo, ch], dtype, q)
        c.op("SPACE_TO_BATCH_ND", [x, c.const([bw]), c.const([[pl, pr]])], [y])


def _batch_to_space(c: Cases, rng: np.random.Generator, dtype: str) -> None:
    four = rng.random() < 0.75
    bh, bw = (int(rng.integers(1, 4)), int(rng.integers(1, 4))) if four else (1, int(rng.integers(1, 4)))
    n, ch = int(rng.integers(1, 3)), int(rng.integers(1, 4))
    h, w = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    ct, cb = int(rng.integers(0, bh)), 0
    cl, cr = int(rng.integers(0, bw)), int(rng.integers(0, bw))
    if h * bh - ct - cb < 1 or w * bw - cl - cr < 1:
        return
    q = quant_for(dtype, rng)
    if four:
        x = c.activation([n * bh * bw, h, w, ch], dtype, q)
        y = c.activation([n, h * bh - ct - cb, w * bw - cl - cr, ch], dtype, q)
        c.op("BATCH_TO_SPACE_ND", [x, c.const([bh, bw]), c.const([[ct, cb], [cl, cr]])], [y])
    else:
        x = c.activation([n * bw, w, ch], dtype, q)
        y = c.activation([n, w * bw - cl - cr, ch], dtype, q)
        c.op("BATCH_TO_SPACE_ND", [x, c.const([bw]), c.const([[cl, cr]])], [y])


def _broadcast_to(c: Cases, rng: np.random.Generator, dtype: str) -> None:
    rank = int(rng.integers(1, 5))
    out = rand_shape(rng, rank, 4)
    in_rank = int(rng.integers(1, rank + 1))
    shape = [d if rng.random() < 0.5 else 1 for d in out[rank - in_rank:]]
    q = quant_for(dtype, rng)
    x = c.activation(shape, dtype, q)
    c.op("BROADCAST_TO", [x, c.const(out)], [c.activation(out, dtype, q)])


def _zeros_like(c: Cases, rng: np.random.Generator, dtype: str) -> None:
    shape = rand_shape(rng, int(rng.integers(1, 4)), 5)
    x = c.activation(shape, dtype)  # TFLM's ZEROS_LIKE writes 0 whatever the quantization
    c.op("ZEROS_LIKE", [x], [c.activation(shape, dtype)])


def _fill(c: Cases, rng: np.random.Generator, dtype: str) -> None:
    shape = rand_shape(rng, int(rng.integers(1, 4)), 5)
    q = quant_for(dtype, rng)
    v1, v = c.activation([1], dtype, q), c.activation([], dtype, q)  # TFLM's FILL wants a rank-0 value; inputs are 1-D
    c.ops.append(OpSpec("RESHAPE", [v1], [v], {"new_shape": []}))
    c.op("FILL", [c.const(shape), v], [c.activation(shape, dtype, q)], model_inputs=[v1])


def _gather(c: Cases, rng: np.random.Generator, dtype: str) -> None:
    rank = int(rng.integers(1, 4))
    shape = rand_shape(rng, rank, 5)
    axis = int(rng.integers(0, rank))
    batch_dims = int(rng.integers(0, axis + 1)) if rng.random() < 0.3 else 0
    idx_shape = shape[:batch_dims] + rand_shape(rng, int(rng.integers(0, 3)), 3)
    idx = rng.integers(0, shape[axis], size=idx_shape)
    q = quant_for(dtype, rng)
    x = c.activation(shape, dtype, q)
    out = shape[:axis] + list(idx_shape[batch_dims:]) + shape[axis + 1:]
    c.op("GATHER", [x, c.const(idx)], [c.activation(out, dtype, q)], {"axis": axis, "batch_dims": batch_dims})


def _random_values(rng: np.random.Generator, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    if dtype == "float32":
        return rng.uniform(-3, 3, size=shape).astype(np.float32)
    info = np.iinfo(np.dtype(dtype))
    return rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)


def _gather_nd(c: Cases, rng: np.random.Generator, dtype: str) -> None:
    rank = int(rng.integers(1, 5))
    shape = rand_shape(rng, rank, 4)
    depth = int(rng.integers(1, rank + 1))
    lead = rand_shape(rng, int(rng.integers(0, 3)), 3)
    idx = np.stack([rng.integers(0, shape[k], size=lead) for k in range(depth)], axis=-1)
    q = quant_for(dtype, rng)
    x = c.activation(shape, dtype, q)
    out = list(lead) + shape[depth:]
    c.op("GATHER_ND", [x, c.const(idx)], [c.activation(out, dtype, q)])


CASES: dict[str, tuple[AddCase, tuple[str, ...]]] = {
    # op: (case, dtypes TFLM runs it in)
    "SLICE": (_slice, ("int8", "int16", "float32")),
    "SPLIT": (_split, ("int8", "int16", "float32")),
    "SPLIT_V": (_split_v, ("int8", "int16", "float32")),
    "PACK": (_pack, ("int8", "int16", "float32")),
    "UNPACK": (_unpack, ("int8", "int16", "float32")),
    "EXPAND_DIMS": (_expand_dims, ("int8", "int16", "float32")),
    "DEPTH_TO_SPACE": (_depth_to_space, ("int8", "float32")),
    "SPACE_TO_DEPTH": (_space_to_depth, ("int8", "float32")),
    "SPACE_TO_BATCH_ND": (_space_to_batch, ("int8", "float32")),
    "BATCH_TO_SPACE_ND": (_batch_to_space, ("int8", "float32")),
    "BROADCAST_TO": (_broadcast_to, ("int8", "int16", "float32")),
    "ZEROS_LIKE": (_zeros_like, ("int32", "float32")),
    "FILL": (_fill, ("int8", "int32", "float32")),
    "GATHER": (_gather, ("int8", "float32")),
    "GATHER_ND": (_gather_nd, ("int8", "float32")),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("opcode", sorted(CASES))
def test_shape_op_random(opcode: str, dtype: str) -> None:
    add_case, dtypes = CASES[opcode]
    if dtype not in dtypes:
        pytest.skip(f"TFLM runs {opcode} on {', '.join(dtypes)} only")
    run_cases(add_case, dtype, seed=sum(map(ord, opcode + dtype)))


def _space_to_batch_numpy(x: np.ndarray, block: list[int], pads: list[list[int]], pad_value: float) -> np.ndarray:
    n, h, w, ch = x.shape
    (pt, pb), (pl, pr) = pads
    padded = np.full((n, h + pt + pb, w + pl + pr, ch), pad_value, dtype=x.dtype)
    padded[:, pt:pt + h, pl:pl + w] = x
    bh, bw = block
    hp, wp = padded.shape[1:3]
    t = padded.reshape(n, hp // bh, bh, wp // bw, bw, ch).transpose(2, 4, 0, 1, 3, 5)
    return t.reshape(bh * bw * n, hp // bh, wp // bw, ch)


@pytest.mark.parametrize("dtype", ["int8", "float32"])
def test_space_to_batch_pads_with_real_zero(dtype: str) -> None:
    """Padded SPACE_TO_BATCH_ND (the dilated-conv prologue): TFLM pads with an uninitialized value, so the pads
    are checked against numpy: the output zero point for int8 (the real 0.0, as LiteRT pads), 0.0 for float."""
    rng = np.random.default_rng(7)
    q = (0.05, -17) if dtype == "int8" else None
    c = Cases()
    x = c.activation([2, 5, 3, 2], dtype, q)
    y = c.activation([2 * 6, 3, 2, 2], dtype, q)
    c.op("SPACE_TO_BATCH_ND", [x, c.const([2, 3]), c.const([[1, 0], [1, 2]])], [y])
    path = c.write()
    data = random_inputs(path, 3, seed=1)[0]
    ours = build_native(path).run_batch([data])[0]
    for k in range(3):
        want = _space_to_batch_numpy(data[k], [2, 3], [[1, 0], [1, 2]],
                                     -17 if dtype == "int8" else 0.0)
        np.testing.assert_array_equal(ours[k].reshape(want.shape), want)
    del rng


def test_tile_matches_numpy_and_constants_fold() -> None:
    """TILE has no TFLM kernel: the aot copy is checked against numpy; a TILE of a constant folds away."""
    c = Cases()
    x = c.activation([2, 1, 3], "int8", (0.1, 3))
    y = c.activation([4, 3, 6], "int8", (0.1, 3))
    c.op("TILE", [x, c.const([2, 3, 2])], [y])
    k = c.const(np.arange(6).reshape(2, 3), "float32")
    y2 = c.activation([2, 6], "float32")
    x2 = c.activation([2, 6], "float32")
    y3 = c.activation([2, 6], "float32")
    c.ops.append(OpSpec("TILE", [k, c.const([1, 2])], [y2]))
    c.op("ADD", [x2, y2], [y3], {"fused_activation_function": "NONE"}, model_inputs=[x2])
    path = c.write()
    native = build_native(path)
    data = random_inputs(path, 2, seed=3)
    outs = native.run_batch(data)
    np.testing.assert_array_equal(outs[0][1], np.tile(data[0][1], (2, 3, 2)))
    np.testing.assert_array_equal(outs[1][0], data[1][0] + np.tile(np.arange(6, dtype=np.float32).reshape(2, 3), (1, 2)))
    assert 1 in native.program.folded_ops


def test_unsupported_dtype_names_op_and_fix(tmp_path: Path) -> None:
    c = Cases()
    x = c.activation([2, 3], "int16", (0.01, 0))
    c.op("ZEROS_LIKE", [x], [c.activation([2, 3], "int16", (0.01, 0))])
    with pytest.raises(UnsupportedOpError, match=r"ZEROS_LIKE.*int16.*int32, int64 and float32"):
        generate(load_model(c.write()))
