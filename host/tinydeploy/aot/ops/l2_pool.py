"""L2_POOL_2D (float32, NHWC) as TFLite Micro's reference kernel runs it: sqrt of the mean of the squares of
each window's in-bounds inputs, TFLite's SAME/VALID padding, fused activation clamp.  TFLM has no quantized
L2 pool, and neither has this lowering."""

from __future__ import annotations

from tinydeploy.aot.lowering import LoweringContext, compute_padding, lowering
from tinydeploy.aot.ops.elementwise import float_range
from tinydeploy.model.graph import Operator


@lowering("L2_POOL_2D")
def lower_l2_pool(op: Operator, ctx: LoweringContext) -> None:
    x, y = ctx.input(op, 0), ctx.output(op, 0)
    o = op.options
    if len(x.shape) != 4 or len(y.shape) != 4:
        raise ctx.unsupported(op, "L2 pooling needs 4-D NHWC tensors")
    if x.dtype != "float32" or y.dtype != "float32":
        raise ctx.unsupported(op, f"types {x.dtype} -> {y.dtype}; TFLite Micro's L2_POOL_2D runs float32 only")
    padding = o.get("padding", "SAME")
    if padding not in ("SAME", "VALID"):
        raise ctx.unsupported(op, f"padding {padding}")
    n, ih, iw, c = (int(v) for v in x.shape)
    sh, sw, fh, fw = (int(o.get(k, 0)) for k in ("stride_h", "stride_w", "filter_height", "filter_width"))
    if min(sh, sw, fh, fw) < 1:
        raise ctx.unsupported(op, f"stride {sh}x{sw} and filter {fh}x{fw} must be positive")
    oh, ph, _ = compute_padding(padding, ih, fh, sh)
    ow, pw, _ = compute_padding(padding, iw, fw, sw)
    if tuple(y.shape) != (n, oh, ow, c):
        raise ctx.unsupported(op, f"output shape {list(y.shape)} differs from the expected {[n, oh, ow, c]}")
    if y.size == 0:
        return
    lo, hi = float_range(op, ctx)
    ctx.kernel("avg_pool")  # avg_pool.h declares td_pool_geom
    ctx.kernel("l2_pool")
    geom = ", ".join(str(v) for v in (n, ih, iw, c, oh, ow, sh, sw, fh, fw, ph, pw))
    ctx.emit("{\n"
             f"  static const td_pool_geom geom = {{{geom}}};\n"
             f"  td_l2_pool_f32({ctx.ptr(x)}, {ctx.ptr(y)}, &geom, {lo}, {hi});\n"
             "}")
