"""Helium (Cortex-M55, MVE) lowerings of the int8 global average: AVERAGE_POOL_2D with one window spanning the
input's width from its corner (avg_pool_s8_opt's case) and MEAN over H, W of an NHWC tensor, both on
firmware/aot/kernels/pool_s8_mve.c (sixteen channels per step).  pooling.py and mean.py call these first;
each returns False when the target has no Helium or the layer is not that case, and the layer keeps its
other kernels.
"""

from __future__ import annotations

from tinydeploy.aot.lowering import LoweringContext
from tinydeploy.aot.ops.transpose import const_ints
from tinydeploy.model.graph import Operator, Tensor


def lower_global_avg_pool_mve(ctx: LoweringContext, x: Tensor, y: Tensor, fields: dict[str, int]) -> bool:
    """td_global_avg_pool_s8_mve with avg_pool_s8_opt.h's td_global_pool_s8_params `fields`."""
    if not ctx.target.mve or not ctx.target.optimized:
        return False
    ctx.kernel("avg_pool_s8_opt")  # the parameter struct
    ctx.kernel("pool_s8_mve")
    params = ctx.struct("params", "td_global_pool_s8_params", fields)
    ctx.emit(f"td_global_avg_pool_s8_mve({params}, {ctx.ptr(x)}, {ctx.ptr(y)});")
    return True


def lower_mean_hw_mve(op: Operator, ctx: LoweringContext, x: Tensor, y: Tensor, quant: dict[str, int]) -> bool:
    """td_mean_hw_s8_mve for an int8 MEAN of a 4-D tensor over axes 1 and 2 (keep_dims either way; mean.py
    has checked the output's size); quant: in_zp, out_zp, multiplier, shift as mean.py computes them for
    td_mean_s8."""
    if not ctx.target.mve or not ctx.target.optimized or x.dtype != "int8" or len(x.shape) != 4:
        return False
    if {int(a) % 4 for a in const_ints(op, ctx, 1, "axis").reshape(-1)} != {1, 2}:
        return False
    n, h, w, c = (int(d) for d in x.shape)
    ctx.kernel("avg_pool_s8_opt")  # pool_s8_mve.h includes its header
    ctx.kernel("pool_s8_mve")
    params = ctx.struct("params", "td_mean_hw_s8_mve_params",
                        {"batches": n, "pixels": h * w, "channels": c, **quant})
    ctx.emit(f"td_mean_hw_s8_mve({params}, {ctx.ptr(x)}, {ctx.ptr(y)});")
    return True
