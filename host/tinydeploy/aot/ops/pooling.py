"""AVERAGE_POOL_2D and MAX_POOL_2D (int8, int16 and float32, NHWC) as TFLite Micro's reference kernels run them.

Padding follows TFLite's ComputePaddingHeightWidth: SAME pads (out - 1) * stride + filter - in in total,
the smaller half before; windows count only in-bounds inputs.  The int8 average rounds half away from zero
and, like TFLM, does not requantize: TFLM requires input and output to share one quantization.
"""

from __future__ import annotations

from tinydeploy.aot.lowering import LoweringContext, compute_padding, lowering
from tinydeploy.aot.ops.elementwise import check_quantized, float_range, int8_range, scale_zp
from tinydeploy.aot.ops.int16x8 import activation_range_s16
from tinydeploy.aot.ops.pool_mve import lower_global_avg_pool_mve
from tinydeploy.model.graph import Operator, Tensor


def pool_geometry(op: Operator, ctx: LoweringContext, x: Tensor, y: Tensor) -> tuple[int, ...]:
    """(n, ih, iw, c, oh, ow, sh, sw, fh, fw, ph, pw) of a 2-D pooling op (TFLite's SAME/VALID padding), the
    order of td_pool_geom, checked against the op's declared output."""
    o = op.options
    if len(x.shape) != 4 or len(y.shape) != 4:
        raise ctx.unsupported(op, "pooling needs 4-D NHWC tensors")
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
    return n, ih, iw, c, oh, ow, sh, sw, fh, fw, ph, pw


@lowering("AVERAGE_POOL_2D", "MAX_POOL_2D")
def lower_pool(op: Operator, ctx: LoweringContext) -> None:
    x, y = ctx.input(op, 0), ctx.output(op, 0)
    if x.dtype != y.dtype or x.dtype not in ("int8", "int16", "float32"):
        raise ctx.unsupported(op, f"types {x.dtype} -> {y.dtype} (int8, int16 or float32 only)")
    n, ih, iw, c, oh, ow, sh, sw, fh, fw, ph, pw = pool_geometry(op, ctx, x, y)
    if y.size == 0:
        return
    kind = "avg_pool" if op.opcode == "AVERAGE_POOL_2D" else "max_pool"
    if x.dtype == "float32":
        lo, hi = float_range(op, ctx)
        suffix = "f32"
    else:
        check_quantized(op, ctx, x, y)
        (sx, zx), (sy, zy) = scale_zp(x), scale_zp(y)
        if abs(sx - sy) > 1e-6 or zx != zy:
            raise ctx.unsupported(op, "int8 pooling needs the same input and output quantization (as TFLM)")
        lo, hi = int8_range(op, ctx, y) if x.dtype == "int8" else activation_range_s16(op, ctx, y)
        suffix = "s8" if x.dtype == "int8" else "s16"
    if (kind, suffix, ctx.target.optimized, oh, ow, ph, pw, fw) == ("avg_pool", "s8", True, 1, 1, 0, 0, iw):
        # one window from the corner, as wide as the input (no padding and one output row imply fh <= ih):
        # the single-window kernel
        fields = {"batches": n, "in_h": ih, "in_w": iw, "channels": c, "filter_h": fh, "filter_w": fw,
                  "act_min": lo, "act_max": hi}
        if lower_global_avg_pool_mve(ctx, x, y, fields):
            return  # Helium cores
        ctx.kernel("avg_pool_s8_opt")
        params = ctx.struct("params", "td_global_pool_s8_params", fields)
        ctx.emit(f"td_global_avg_pool_s8({params}, {ctx.ptr(x)}, {ctx.ptr(y)});")
        return
    ctx.kernel("avg_pool")  # avg_pool.h declares the geometry both pools share
    if kind == "max_pool":
        ctx.kernel("max_pool")
    if suffix == "s16":
        ctx.kernel("pool_s16")  # pool_s16.c: both int16 pools
    geom = ", ".join(str(v) for v in (n, ih, iw, c, oh, ow, sh, sw, fh, fw, ph, pw))
    ctx.emit("{\n"
             f"  static const td_pool_geom geom = {{{geom}}};\n"
             f"  td_{kind}_{suffix}({ctx.ptr(x)}, {ctx.ptr(y)}, &geom, {lo}, {hi});\n"
             "}")
