"""int32 ADD, SUB and MUL: the index arithmetic converters leave in graphs (a tf.cond inside a tf.while_loop
adds an int32 ADD to the loop counter; shape computations), bit-exact with TFLite Micro's int32 kernels.

Measured on the tflite-micro host interpreter: overflow wraps around; SUB and MUL clamp to the fused
activation's int32 range (NONE: the whole range, RELU: [0, max], RELU6: [0, 6], RELU_N1_TO_1: [-1, 1]);
ADD ignores the fused activation.  The ADD/MUL and SUB lowerings hand int32 outputs here.
"""

from __future__ import annotations

from tinydeploy.aot.lowering import LoweringContext
from tinydeploy.aot.ops.elementwise import activation, broadcast6
from tinydeploy.aot.ops.transpose import c_array
from tinydeploy.model.graph import Operator

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
ACTIVATION_RANGE_I32 = {"NONE": (INT32_MIN, INT32_MAX), "RELU": (0, INT32_MAX), "RELU6": (0, 6),
                        "RELU_N1_TO_1": (-1, 1)}


def _c_int32(v: int) -> str:
    return "INT32_MIN" if v == INT32_MIN else ("INT32_MAX" if v == INT32_MAX else str(v))


def lower_arith_i32(op: Operator, ctx: LoweringContext) -> None:
    a, b, y = ctx.input(op, 0), ctx.input(op, 1), ctx.output(op, 0)
    if not (a.dtype == b.dtype == y.dtype == "int32"):
        raise ctx.unsupported(op, f"{op.opcode} with types {a.dtype}, {b.dtype} -> {y.dtype}: int32 {op.opcode} "
                                  "needs int32 throughout (as in TFLite Micro)")
    for t in (a, b):
        if tuple(t.shape) == tuple(y.shape):
            ctx.allow_inplace(op, t, y)
    d6, sa6, sb6 = broadcast6(op, ctx, a.shape, b.shape, y.shape)
    ctx.kernel("add")  # td_bcast6
    ctx.kernel("arith_i32")
    view = f"static const td_bcast6 view = {{{c_array(d6)}, {c_array(sa6)}, {c_array(sb6)}}};"
    args = f"{ctx.ptr(a)}, {ctx.ptr(b)}, {ctx.ptr(y)}, &view"
    if op.opcode != "ADD":
        lo, hi = ACTIVATION_RANGE_I32[activation(op, ctx)]
        args += f", {_c_int32(lo)}, {_c_int32(hi)}"
    ctx.emit(f"{{\n  {view}\n  td_{op.opcode.lower()}_i32({args});\n}}")
