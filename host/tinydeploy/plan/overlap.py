"""Which convolutions may write their output over their own input, and how far ahead the input must start.

A convolution kernel that produces its output pixels in raster order (batch, row, column; all channels of a
pixel before the next pixel) reads, for output pixel p, an input window whose first byte never moves
backwards as p grows.  So the output may overlap the input as long as the bytes written so far stay behind
the first input byte still to be read: if the input starts `gap` bytes after the output, with

    gap >= max over p of  write_end(p + B - 1) - first_input_byte(p)

no write lands on input that a later (or the current) pixel still reads.  B is a block of pixels a kernel may
compute together (reading all their inputs, writing all their outputs while still reading them: the GEMM
kernel works on pairs of pixels, channel block by channel block); the whole block's writes must stay behind
the block's first read.  The combined footprint is max(output, gap + input) instead of output + input:

- a 1x1 stride-1 conv with C_in -> C_out channels (C_out >= C_in) needs output + B*C_in bytes: the input
  sits at the tail of the output buffer and is eaten from the front as the output grows behind it;
- a stride-1 3x3 depthwise needs about two rows more than its input (the window reaches one row back);
- a stride-2 layer shrinks: the output trails far behind its input.

Unlike MCUNet/TinyEngine's channel-by-channel in-place depthwise (which needs an H x W scratch plane and a
strided, SIMD-less kernel), this runs the unchanged kernels at full speed, for any stride, padding, dilation
and depth multiplier, for CONV_2D as well as DEPTHWISE_CONV_2D.  What the planner must know is just the gap.

The contract holds only for kernels listed in RASTER_KERNELS (reviewed to write in raster order, reading only
the current block's windows); an op that uses any other kernel gets no overlap.
"""

from __future__ import annotations

import numpy as np

from tinydeploy.aot.lowering import compute_padding
from tinydeploy.model.graph import Model, Operator

# Kernels reviewed to satisfy the contract above: output pixels written in raster order, at most
# PIXEL_BLOCK pixels in flight, each pixel's input window read from the input tensor (or copied to a
# private scratch) and nothing read from the output.  A kernel whose loop order changes must leave this list.
RASTER_KERNELS = frozenset({
    "conv2d_s8", "conv2d_s8_opt", "conv2d_s16", "conv2d_f32", "requant_row_s8",
    "depthwise_conv2d_s8", "depthwise_conv2d_s8_opt", "depthwise_conv2d_s16", "depthwise_conv2d_f32",
    "conv2d_s8_mve", "depthwise_conv2d_s8_mve",  # Helium: pixel pairs / single pixels, exact-width stores
})
PIXEL_BLOCK = 4  # twice the GEMM kernel's pair of pixels: room for a 4-pixel block without a re-check
OVERLAP_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D")


def raster_gap(*, batches: int, in_h: int, in_w: int, in_pixel: int, out_h: int, out_w: int, out_pixel: int,
               stride_h: int, stride_w: int, pad_h: int, pad_w: int, block: int = PIXEL_BLOCK) -> int:
    """The least distance (bytes) from the output's start to the input's start that keeps a raster-order
    kernel's writes behind its reads (see the module docstring).  in_pixel/out_pixel: bytes per pixel."""
    oy = np.arange(out_h).reshape(1, out_h, 1)
    ox = np.arange(out_w).reshape(1, 1, out_w)
    b = np.arange(batches).reshape(batches, 1, 1)
    iy = np.clip(oy * stride_h - pad_h, 0, in_h - 1)
    ix = np.clip(ox * stride_w - pad_w, 0, in_w - 1)
    first_read = (((b * in_h + iy) * in_w + ix) * in_pixel).astype(np.int64).reshape(-1)
    # the first byte any pixel from p on reads (a suffix minimum: robust even if a window moved back)
    first_read = np.minimum.accumulate(first_read[::-1])[::-1]
    pixels = first_read.size
    write_end = np.minimum(np.arange(pixels, dtype=np.int64) + block, pixels) * out_pixel
    return int(max(0, int((write_end - first_read).max())))


def conv_overlap_gap(model: Model, op: Operator) -> int | None:
    """The gap for a CONV_2D / DEPTHWISE_CONV_2D op's output over its input (None: not such an op, or shapes
    it does not describe)."""
    if op.opcode not in OVERLAP_OPS or len(op.inputs) < 2 or not op.outputs:
        return None
    x, w, y = (model.tensors[i] if i >= 0 else None for i in (op.inputs[0], op.inputs[1], op.outputs[0]))
    if x is None or w is None or y is None or x.is_constant or y.is_constant:
        return None
    if len(x.shape) != 4 or len(y.shape) != 4 or len(w.shape) != 4 or x.shape[0] != y.shape[0]:
        return None
    o = op.options
    sh, sw = o.get("stride_h", 1), o.get("stride_w", 1)
    dh, dw = o.get("dilation_h_factor", 1), o.get("dilation_w_factor", 1)
    padding = o.get("padding", "VALID")
    if padding not in ("SAME", "VALID") or min(sh, sw, dh, dw) < 1 or min(x.shape) < 1 or min(y.shape) < 1:
        return None
    k_h, k_w = w.shape[1], w.shape[2]
    out_h, pad_h, _ = compute_padding(padding, x.shape[1], k_h, sh, dh)
    out_w, pad_w, _ = compute_padding(padding, x.shape[2], k_w, sw, dw)
    if (out_h, out_w) != (y.shape[1], y.shape[2]):
        return None
    n_in, n_out = int(np.prod(x.shape[:3])), int(np.prod(y.shape[:3]))
    if x.nbytes % n_in or y.nbytes % n_out:
        return None
    return raster_gap(batches=x.shape[0], in_h=x.shape[1], in_w=x.shape[2], in_pixel=x.nbytes // n_in,
                      out_h=out_h, out_w=out_w, out_pixel=y.nbytes // n_out, stride_h=sh, stride_w=sw,
                      pad_h=pad_h, pad_w=pad_w)


def conv_overlaps(model: Model, skipped: set[int] | frozenset[int] = frozenset()) -> list[tuple[int, int, int, int]]:
    """(op, input, output, gap) for every convolution of a bare model (what the aot engine allows with its
    raster kernels): the planner's overlap requests when no lowering info is at hand (`deploy inspect`)."""
    found = []
    for op in model.operators:
        if op.index in skipped:
            continue
        gap = conv_overlap_gap(model, op)
        if gap is not None:
            found.append((op.index, op.inputs[0], op.outputs[0], gap))
    return found


def raster_overlaps(model: Model, op_kernels: dict[int, set[str]]) -> list[tuple[int, int, int, int]]:
    """(op, input, output, gap) for each lowered convolution whose kernels all keep the raster contract."""
    found = []
    for index, kernels in op_kernels.items():
        op = model.operators[index]
        if not kernels or not kernels <= RASTER_KERNELS:
            continue
        gap = conv_overlap_gap(model, op)
        if gap is not None:
            found.append((index, op.inputs[0], op.outputs[0], gap))
    return found
