"""BATCH_MATMUL lowering: float32, int8 and int16 (zero points 0), as TFLite Micro runs it.

TFLM extends both operands to rank 5, broadcasts the three batch dims (equal, or one of them 1), transposes
the operands that need it (adj_x, and the RHS unless adj_y) and sums over the depth in ascending order.  Here
the transposes and broadcasting become element strides computed once, so the kernel
(firmware/aot/kernels/batch_matmul.c) reads both operands in place, constant or not.  Requantization as in
TFLM's Prepare: one multiplier for lhs_scale * rhs_scale / output_scale (GetQuantizedConvolutionMultipler),
no fused activation (the output type's full range).
"""

from __future__ import annotations

import numpy as np

from tinydeploy.aot.lowering import LoweringContext, lowering, quant_of
from tinydeploy.aot.ops.transpose import contiguous_strides
from tinydeploy.aot.quant import quantize_multiplier
from tinydeploy.model.graph import Operator, Tensor

RANGES = {"int8": (-128, 127), "int16": (-32768, 32767)}
KIND = {"float32": "f32", "int8": "s8", "int16": "s16"}


def _extended(shape: tuple[int, ...]) -> list[int]:
    return [1] * (5 - len(shape)) + [int(d) for d in shape]


def _geometry(op: Operator, ctx: LoweringContext, lhs: Tensor, rhs: Tensor, y: Tensor) -> dict[str, object]:
    if not (2 <= len(lhs.shape) <= 5 and 2 <= len(rhs.shape) <= 5):
        raise ctx.unsupported(op, f"operands {list(lhs.shape)} and {list(rhs.shape)}: TFLite Micro takes rank 2 to 5")
    adj_x, adj_y = bool(op.options.get("adj_x")), bool(op.options.get("adj_y"))
    ls, rs = _extended(lhs.shape), _extended(rhs.shape)
    lst, rst = contiguous_strides(ls), contiguous_strides(rs)
    batch = []
    for d in range(3):
        if ls[d] != rs[d] and 1 not in (ls[d], rs[d]):
            raise ctx.unsupported(op, f"batch dims of {list(lhs.shape)} and {list(rhs.shape)} do not broadcast")
        batch.append(max(ls[d], rs[d]))
    rows, depth = (ls[4], ls[3]) if adj_x else (ls[3], ls[4])
    rhs_depth, cols = (rs[4], rs[3]) if adj_y else (rs[3], rs[4])
    if depth != rhs_depth:
        raise ctx.unsupported(op, f"depths differ: {list(lhs.shape)} x {list(rhs.shape)} (adj_x={adj_x}, "
                                  f"adj_y={adj_y})")
    rank = max(len(lhs.shape), len(rhs.shape))
    expected = (batch + [rows, cols])[5 - rank:]
    if list(y.shape) != expected:
        raise ctx.unsupported(op, f"output {list(y.shape)} is not the product's {expected}")

    def c_array(values: list[int]) -> str:
        return "{" + ", ".join(str(int(v)) for v in values) + "}"

    return {
        "batch": c_array(batch),
        "lhs_batch": c_array([lst[d] if ls[d] != 1 else 0 for d in range(3)]),
        "rhs_batch": c_array([rst[d] if rs[d] != 1 else 0 for d in range(3)]),
        "rows": rows, "depth": depth, "cols": cols,
        "lhs_row": 1 if adj_x else depth, "lhs_k": rows if adj_x else 1,
        "rhs_k": 1 if adj_y else cols, "rhs_col": depth if adj_y else 1,
    }


def _requant(op: Operator, ctx: LoweringContext, lhs: Tensor, rhs: Tensor, y: Tensor) -> dict[str, int]:
    (ls, lzp), (rs, rzp), (ys, yzp) = quant_of(lhs), quant_of(rhs), quant_of(y)
    if 0.0 in (ls, rs, ys):
        raise ctx.unsupported(op, "integer operands and output must be quantized")
    if y.dtype == "int16" and (lzp, rzp, yzp) != (0, 0, 0):
        raise ctx.unsupported(op, "int16 operands and output need zero point 0 (TFLite Micro checks it)")
    product = float(np.float32(ls) * np.float32(rs))  # TFLite multiplies the two float scales in float
    mult, shift = quantize_multiplier(product / float(np.float32(ys)))
    lo, hi = RANGES[y.dtype]
    return {"lhs_offset": -lzp, "rhs_offset": -rzp, "output_offset": yzp, "mult": mult, "shift": shift,
            "act_min": lo, "act_max": hi}


@lowering("BATCH_MATMUL")
def lower_batch_matmul(op: Operator, ctx: LoweringContext) -> None:
    lhs, rhs, y = ctx.input(op, 0), ctx.input(op, 1), ctx.output(op, 0)
    if not lhs.dtype == rhs.dtype == y.dtype or y.dtype not in KIND:
        raise ctx.unsupported(op, f"types {lhs.dtype} x {rhs.dtype} -> {y.dtype}; TFLite Micro multiplies "
                                  "float32, int8 or int16 operands of one type into the same type")
    fields = _geometry(op, ctx, lhs, rhs, y)
    if y.dtype != "float32":
        fields.update(_requant(op, ctx, lhs, rhs, y))
    params = ctx.struct("params", "td_batch_matmul_params", fields)
    ctx.kernel("batch_matmul")
    ctx.emit(f"td_batch_matmul_{KIND[y.dtype]}({params}, {ctx.ptr(lhs)}, {ctx.ptr(rhs)}, {ctx.ptr(y)});")
