"""EMBEDDING_LOOKUP as TFLite Micro runs it (embedding_lookup.cc).

ids: 1-D int32 (constant or computed at run time); table: [rows, ...] float32 or int8.  Same type in and out
is a raw row copy (gather.c's td_gather over axis 0); an int8 table into a float32 output is TFLM's hybrid
path, which dequantizes each row with the table's scale (zero point 0 required, as TFLM).  An id out of
range fails TFLM's inference; here it yields a zero row, never a read outside the table.
"""

from __future__ import annotations

import numpy as np

from tinydeploy.aot.codegen import c_float
from tinydeploy.aot.lowering import LoweringContext, lowering
from tinydeploy.model.graph import Operator


@lowering("EMBEDDING_LOOKUP")
def lower_embedding_lookup(op: Operator, ctx: LoweringContext) -> None:
    ids, table, y = ctx.input(op, 0), ctx.input(op, 1), ctx.output(op, 0)
    if ids.dtype != "int32" or len(ids.shape) != 1:
        raise ctx.unsupported(op, f"ids '{ids.name}' are {ids.dtype}{list(ids.shape)}; TFLite Micro takes 1-D int32")
    if len(table.shape) < 2:
        raise ctx.unsupported(op, f"table '{table.name}' {list(table.shape)} must have at least 2 dimensions")
    kinds = (table.dtype, y.dtype)
    if kinds not in (("float32", "float32"), ("int8", "int8"), ("int8", "float32")):
        raise ctx.unsupported(op, f"table {table.dtype} -> output {y.dtype}; TFLite Micro looks up float32 -> "
                                  "float32, int8 -> int8 and int8 -> float32 (hybrid)")
    expected = (int(ids.shape[0]), *(int(d) for d in table.shape[1:]))
    if tuple(y.shape) != expected:
        raise ctx.unsupported(op, f"output {list(y.shape)} differs from the looked-up {list(expected)}")
    if y.size == 0:
        return
    rows, cols = int(table.shape[0]), int(np.prod(table.shape[1:], dtype=np.int64))
    if kinds == ("int8", "float32"):
        if table.quant is None or table.quant.scale.size != 1 or int(table.quant.zero_point[0]) != 0:
            raise ctx.unsupported(op, f"int8 table '{table.name}' needs one scale and zero point 0 (TFLite Micro)")
        ctx.kernel("embedding_lookup")
        ctx.emit(f"td_embedding_lookup_hybrid({ctx.ptr(ids)}, {ids.size}, {ctx.ptr(table)}, {rows}, {cols}, "
                 f"{c_float(float(table.quant.scale[0]))}, {ctx.ptr(y)});")
        return
    geom = ctx.struct("gather", "td_gather_geom", {
        "batch": 1, "outer": 1, "axis_size": rows, "coords": ids.size,
        "inner_bytes": cols * table.numpy_dtype.itemsize, "index_bytes": 4})
    ctx.kernel("gather")
    ctx.emit(f"td_gather({ctx.ptr(table)}, {ctx.ptr(ids)}, {ctx.ptr(y)}, {geom});")
