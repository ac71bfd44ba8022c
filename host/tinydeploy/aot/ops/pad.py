"""PAD and PADV2 with a constant (any element type, up to 6-D), as TFLite Micro's reference kernel.

PAD fills with the output's zero point (int8) or 0; PADV2 with its constant_values operand taken as raw
bytes, as TFLM does (it requires that operand to share the output's quantization).
"""

from __future__ import annotations

import numpy as np

from tinydeploy.aot.codegen import c_float, c_int
from tinydeploy.aot.lowering import LoweringContext, lowering
from tinydeploy.aot.ops.transpose import MAX_DIMS, c_array, const_ints
from tinydeploy.model.graph import Operator

C_TYPES = {"int8": "int8_t", "uint8": "uint8_t", "int16": "int16_t", "int32": "int32_t", "float32": "float",
           "int64": "int64_t"}


def _pad_value(op: Operator, ctx: LoweringContext) -> np.generic:
    y = ctx.output(op, 0)
    if op.opcode == "PADV2" and len(op.inputs) > 2 and op.inputs[2] >= 0:
        v = ctx.input(op, 2)
        if v.data is None or v.size != 1 or v.dtype != y.dtype:
            raise ctx.unsupported(op, "constant_values must be one constant of the output's type")
        return np.asarray(v.data).reshape(-1)[0]
    if y.dtype == "int8" and y.quant is not None:
        return np.int8(int(y.quant.zero_point[0]))
    return y.numpy_dtype.type(0)


def _literal(value: np.generic, dtype: str) -> str:
    return c_float(float(value)) if dtype == "float32" else c_int(int(value), C_TYPES[dtype])


@lowering("PAD", "PADV2")
def lower_pad(op: Operator, ctx: LoweringContext) -> None:
    x, y = ctx.input(op, 0), ctx.output(op, 0)
    if x.dtype != y.dtype or x.dtype not in C_TYPES:
        raise ctx.unsupported(op, f"types {x.dtype} -> {y.dtype}")
    rank = len(x.shape)
    if rank > MAX_DIMS:
        raise ctx.unsupported(op, f"{rank}-D tensors are not supported (at most 6-D)")
    pads = const_ints(op, ctx, 1, "paddings").reshape(-1)
    if pads.size != 2 * rank:
        raise ctx.unsupported(op, f"paddings has {pads.size} values; expected {2 * rank}")
    pads = pads.reshape(rank, 2)
    if (pads < 0).any():
        raise ctx.unsupported(op, "negative paddings are not supported")
    out_dims = [int(x.shape[k] + pads[k, 0] + pads[k, 1]) for k in range(rank)]
    if tuple(out_dims) != tuple(y.shape):
        raise ctx.unsupported(op, f"output shape {list(y.shape)} differs from the padded {out_dims}")
    if y.size == 0:
        return
    extra = MAX_DIMS - rank
    in6 = [1] * extra + [int(d) for d in x.shape]
    out6 = [1] * extra + out_dims
    before6 = [0] * extra + [int(p) for p in pads[:, 0]]
    ctype = C_TYPES[y.dtype]
    ctx.kernel("pad")
    ctx.emit("{\n"
             f"  static const td_pad6 geom = {{{c_array(in6)}, {c_array(out6)}, {c_array(before6)}}};\n"
             f"  static const {ctype} pad_value = {_literal(_pad_value(op, ctx), y.dtype)};\n"
             f"  td_pad({ctx.ptr(x)}, {ctx.ptr(y)}, {y.numpy_dtype.itemsize}, &geom, &pad_value);\n"
             "}")
