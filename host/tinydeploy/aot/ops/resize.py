"""RESIZE_NEAREST_NEIGHBOR and RESIZE_BILINEAR (align_corners, half_pixel_centers), as TFLite Micro runs them.

The output size is static, so every output row's and column's source position is computed here once, with
TFLM's own arithmetic (float32 scale and positions, std::round / floor for nearest; for integer bilinear the
10-bit fixed-point scale of reference_ops::ResizeBilinearInteger), and stored as small tables in flash.  The
kernels (resize_nearest.c, resize_bilinear.c) only copy or blend.  Types: nearest float32/int8/int16 (any
element size works: it copies), bilinear float32/int8 (TFLM's bilinear
kernel rejects int16).  TFLM copies/blends stored codes without
requantizing, so int8/int16 input and output must share one quantization (the converter arranges that).
"""

from __future__ import annotations

import math

import numpy as np

from tinydeploy.aot.lowering import LoweringContext, lowering
from tinydeploy.aot.ops.shape_ops import check_same_type
from tinydeploy.aot.ops.transpose import const_ints
from tinydeploy.model.graph import Operator, Tensor

F32 = np.float32
RESIZE_TYPES = ("float32", "int8", "int16")


def _geometry(op: Operator, ctx: LoweringContext) -> tuple[Tensor, Tensor, int, int, int, int, int, int]:
    x, y = ctx.input(op, 0), ctx.output(op, 0)
    check_same_type(op, ctx, x, y)
    if x.dtype not in RESIZE_TYPES:
        raise ctx.unsupported(op, f"type {x.dtype}: TFLite Micro resizes {', '.join(RESIZE_TYPES)} only")
    if len(x.shape) != 4 or len(y.shape) != 4:
        raise ctx.unsupported(op, f"input {list(x.shape)} / output {list(y.shape)} are not 4-D (NHWC)")
    size = [int(v) for v in const_ints(op, ctx, 1, "size").reshape(-1)]
    n, ih, iw, c = (int(d) for d in x.shape)
    if len(size) != 2 or [n, size[0], size[1], c] != list(y.shape) or min(size) < 1:
        raise ctx.unsupported(op, f"size {size} does not give the output {list(y.shape)}")
    if op.options.get("align_corners") and op.options.get("half_pixel_centers"):
        raise ctx.unsupported(op, "align_corners and half_pixel_centers are both set; TFLite allows one of them")
    return x, y, n, ih, iw, c, size[0], size[1]


def nearest_index(out_index: int, in_size: int, out_size: int, align_corners: bool, half_pixel: bool) -> int:
    """TFLM's GetNearestNeighbor, in float32 as TFLM computes it."""
    if align_corners and out_size > 1:
        scale = F32(in_size - 1) / F32(out_size - 1)
    else:
        scale = F32(in_size) / F32(out_size)
    pos = (F32(out_index) + F32(0.5 if half_pixel else 0.0)) * scale
    if align_corners:
        value = int(math.copysign(math.floor(abs(float(pos)) + 0.5), float(pos)))  # std::round: half away
    else:
        value = int(math.floor(float(pos)))
    value = min(value, in_size - 1)
    return max(0, value) if half_pixel else value


@lowering("RESIZE_NEAREST_NEIGHBOR")
def lower_resize_nearest(op: Operator, ctx: LoweringContext) -> None:
    x, y, n, ih, iw, c, oh, ow = _geometry(op, ctx)
    align, half = bool(op.options.get("align_corners")), bool(op.options.get("half_pixel_centers"))
    if max(ih, iw) > 32767:
        raise ctx.unsupported(op, f"input {ih}x{iw} is too large (at most 32767 rows and columns)")
    ys = np.array([nearest_index(i, ih, oh, align, half) for i in range(oh)], dtype=np.int16)
    xs = np.array([nearest_index(i, iw, ow, align, half) for i in range(ow)], dtype=np.int16)
    geom = ctx.struct("resize", "td_resize_nearest_geom", {
        "batches": n, "in_h": ih, "in_w": iw, "out_h": oh, "out_w": ow,
        "pixel_bytes": c * x.numpy_dtype.itemsize,
        "src_y": ctx.const("src_y", ys, "int16_t"), "src_x": ctx.const("src_x", xs, "int16_t"),
    })
    ctx.kernel("resize_nearest")
    ctx.emit(f"td_resize_nearest({ctx.ptr(x)}, {ctx.ptr(y)}, {geom});")


def bilinear_float_axis(in_size: int, out_size: int, align: bool, half: bool
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """TFLM's float ComputeInterpolationValues per output index: (position, lower, upper)."""
    scale = F32(in_size) / F32(out_size)
    if align and out_size > 1:
        scale = F32(in_size - 1) / F32(out_size - 1)
    pos, lo, hi = [], [], []
    for v in range(out_size):
        p = (F32(v) + F32(0.5)) * scale - F32(0.5) if half else F32(v) * scale
        pos.append(p)
        lo.append(max(int(math.floor(float(p))), 0))
        hi.append(min(int(math.ceil(float(p))), in_size - 1))
    return np.array(pos, dtype=F32), np.array(lo, dtype=np.int32), np.array(hi, dtype=np.int32)


def _c_div(a: int, b: int) -> int:
    """C's integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def bilinear_int_axis(in_size: int, out_size: int, align: bool, half: bool
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """TFLM's integer ComputeInterpolationValues: positions in 1/1024, lower and upper source index."""
    scale = ((1 << 10) * in_size + out_size // 2) // out_size
    if align and out_size > 1:
        scale = ((1 << 10) * (in_size - 1) + (out_size - 1) // 2) // (out_size - 1)
    pos, lo, hi = [], [], []
    for v in range(out_size):
        p = v * scale + scale // 2 - (1 << 9) if half else v * scale
        pos.append(p)
        lo.append(max(_c_div(p, 1 << 10), 0))
        hi.append(min(_c_div(p + (1 << 10) - 1, 1 << 10), in_size - 1))
    return np.array(pos, dtype=np.int32), np.array(lo, dtype=np.int32), np.array(hi, dtype=np.int32)


@lowering("RESIZE_BILINEAR")
def lower_resize_bilinear(op: Operator, ctx: LoweringContext) -> None:
    x, y, n, ih, iw, c, oh, ow = _geometry(op, ctx)
    align, half = bool(op.options.get("align_corners")), bool(op.options.get("half_pixel_centers"))
    if x.dtype not in ("float32", "int8"):
        raise ctx.unsupported(op, f"type {x.dtype}: TFLite Micro's RESIZE_BILINEAR runs float32 and int8 only; "
                                  "quantize the model to int8 (not int16x8) or keep it float32")
    floating = x.dtype == "float32"
    axis = bilinear_float_axis if floating else bilinear_int_axis
    py, y0, y1 = axis(ih, oh, align, half)
    px, x0, x1 = axis(iw, ow, align, half)
    fields: dict[str, object] = {
        "batches": n, "in_h": ih, "in_w": iw, "depth": c, "out_h": oh, "out_w": ow,
        "y0": ctx.const("y0", y0, "int32_t"), "y1": ctx.const("y1", y1, "int32_t"),
        "x0": ctx.const("x0", x0, "int32_t"), "x1": ctx.const("x1", x1, "int32_t"),
    }
    if floating:
        fields.update(fy=ctx.const("fy", py, "float"), fx=ctx.const("fx", px, "float"), qy="0", qx="0")
    else:
        fields.update(fy="0", fx="0", qy=ctx.const("qy", py, "int32_t"), qx=ctx.const("qx", px, "int32_t"))
    geom = ctx.struct("resize", "td_resize_bilinear_geom", fields)
    suffix = "f32" if floating else "s8"
    ctx.kernel("resize_bilinear")
    ctx.emit(f"td_resize_bilinear_{suffix}({ctx.ptr(x)}, {ctx.ptr(y)}, {geom});")
