"""L2_POOL_2D (float32, NHWC) as TFLite Micro's reference kernel runs it: sqrt of the mean of the squares of
each window's in-bounds inputs, TFLite's SAME/VALID padding, fused activation clamp.  TFLM has no quantized
L2 pool, and neither has this lowering."""

from __future__ import annotations

from tinydeploy.aot.lowering import LoweringContext, lowering
from tinydeploy.aot.ops.elementwise import float_range
from tinydeploy.aot.ops.pooling import pool_geometry
from tinydeploy.model.graph import Operator


@lowering("L2_POOL_2D")
def lower_l2_pool(op: Operator, ctx: LoweringContext) -> None:
    x, y = ctx.input(op, 0), ctx.output(op, 0)
    if x.dtype != "float32" or y.dtype != "float32":
        raise ctx.unsupported(op, f"types {x.dtype} -> {y.dtype}; TFLite Micro's L2_POOL_2D runs float32 only")
    geometry = pool_geometry(op, ctx, x, y)
    if y.size == 0:
        return
    lo, hi = float_range(op, ctx)
    ctx.kernel("avg_pool")  # avg_pool.h declares td_pool_geom
    ctx.kernel("l2_pool")
    geom = ", ".join(str(v) for v in geometry)
    ctx.emit("{\n"
             f"  static const td_pool_geom geom = {{{geom}}};\n"
             f"  td_l2_pool_f32({ctx.ptr(x)}, {ctx.ptr(y)}, &geom, {lo}, {hi});\n"
             "}")
