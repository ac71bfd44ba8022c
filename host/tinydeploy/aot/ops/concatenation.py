"""CONCATENATION along any axis (any element type) as TFLite Micro's reference kernel runs it.

TFLM requires int8 inputs quantized exactly like the output (the converter arranges that) and copies them
unchanged, so this is a pure copy: each input's rows go into its slot of each output row.
"""

from __future__ import annotations

from tinydeploy.aot.lowering import LoweringContext, lowering
from tinydeploy.model.graph import Operator


@lowering("CONCATENATION")
def lower_concatenation(op: Operator, ctx: LoweringContext) -> None:
    y = ctx.output(op, 0)
    inputs = [ctx.input(op, i) for i in range(len(op.inputs))]
    if op.options.get("fused_activation_function", "NONE") != "NONE":
        raise ctx.unsupported(op, "a fused activation on CONCATENATION is not supported (TFLM rejects it too)")
    rank = len(y.shape)
    axis = int(op.options.get("axis", 0))
    axis = axis + rank if axis < 0 else axis
    if not 0 <= axis < rank:
        raise ctx.unsupported(op, f"axis {op.options.get('axis')} is out of range for a {rank}-D output")
    for t in inputs:
        same_outside = len(t.shape) == rank and all(t.shape[k] == y.shape[k] for k in range(rank) if k != axis)
        if not same_outside or t.dtype != y.dtype:
            raise ctx.unsupported(op, f"input '{t.name}' {t.dtype}{list(t.shape)} does not fit "
                                      f"output {y.dtype}{list(y.shape)} along axis {axis}")
    if y.dtype == "int8":
        for t in inputs:
            if t.quant is None or y.quant is None or float(t.quant.scale[0]) != float(y.quant.scale[0]) \
                    or int(t.quant.zero_point[0]) != int(y.quant.zero_point[0]):
                raise ctx.unsupported(op, f"input '{t.name}' is quantized differently from the output; "
                                          "TFLM requires one quantization for all int8 inputs and the output")
    if sum(int(t.shape[axis]) for t in inputs) != y.shape[axis]:
        raise ctx.unsupported(op, "the inputs' sizes along the axis do not add up to the output's")
    elem = y.numpy_dtype.itemsize
    outer = 1
    for d in y.shape[:axis]:
        outer *= int(d)
    inner = elem
    for d in y.shape[axis + 1:]:
        inner *= int(d)
    out_row = int(y.shape[axis]) * inner
    if y.size == 0:
        return
    ctx.kernel("concatenation")
    dst = ctx.ptr(y, "uint8_t")
    offset = 0
    for t in inputs:
        chunk = int(t.shape[axis]) * inner
        if chunk:
            ctx.emit(f"td_concat_part({ctx.ptr(t)}, {dst} + {offset}, {outer}, {chunk}, {out_row});")
        offset += chunk
