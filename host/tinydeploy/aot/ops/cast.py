"""CAST between float32, int8, int16, int32 and bool, as TFLite Micro's copy-cast (a static_cast per element).

TFLM runs exactly these types (uint8 and int64 are refused by its kernel too).  Quantization is ignored,
as TFLM ignores it: CAST converts stored values, it is not QUANTIZE/DEQUANTIZE.
"""

from __future__ import annotations

from tinydeploy.aot.lowering import LoweringContext, lowering
from tinydeploy.model.graph import Operator

CAST_TYPES = {"float32": 0, "int32": 2, "bool": 6, "int16": 7, "int8": 9}


@lowering("CAST")
def lower_cast(op: Operator, ctx: LoweringContext) -> None:
    x, y = ctx.input(op, 0), ctx.output(op, 0)
    if x.dtype not in CAST_TYPES or y.dtype not in CAST_TYPES:
        raise ctx.unsupported(op, f"CAST from {x.dtype} to {y.dtype}: TFLite Micro and aot cast between "
                                  f"{', '.join(CAST_TYPES)} only; for int8 <-> float use QUANTIZE/DEQUANTIZE")
    if x.size != y.size:
        raise ctx.unsupported(op, f"input {list(x.shape)} and output {list(y.shape)} differ in size")
    if x.numpy_dtype.itemsize == y.numpy_dtype.itemsize:
        ctx.allow_inplace(op, x, y)  # element i is read before it is written, at the same byte offset
    ctx.kernel("cast")
    ctx.emit(f"td_cast({ctx.ptr(x, 'void')}, {CAST_TYPES[x.dtype]}, {ctx.ptr(y, 'void')}, {CAST_TYPES[y.dtype]}, "
             f"{x.size});")
