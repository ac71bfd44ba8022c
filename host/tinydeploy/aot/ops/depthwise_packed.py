"""int8 DEPTHWISE_CONV_2D with depth multiplier 1 on cores without Helium: td_depthwise_conv2d_s8_packed
(depthwise_conv2d_s8_opt.h), any filter size, stride, dilation, padding and channel count.

The filter, the folded bias and the requantization are written as one stream of int32 words per group of four
channels, in the order the kernel reads them (see pack_stream), so the kernel walks a single pointer."""

from __future__ import annotations

import numpy as np

from tinydeploy.aot.lowering import LoweringContext, quant_of
from tinydeploy.aot.ops.conv2d import (
    DEPTHWISE_FIELDS,
    fast_requant_table,
    geom16,
    packed_kernels_apply,
    requant_arrays,
    touches_padding,
)
from tinydeploy.model.graph import Operator, Tensor

MAX_TAPS = 64  # TD_DWP_MAX_TAPS in depthwise_conv2d_s8_opt.h
RQ_WORDS = 14  # TD_DWP_RQ_WORDS in depthwise_conv2d_s8_opt.c


def _words(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """int16 pairs as int32 words: lo in the low half, hi in the high half."""
    return ((lo.astype(np.int64) & 0xFFFF) | (hi.astype(np.int64) << 16)).astype(np.uint32).view(np.int32)


def _bytes4(v: int) -> int:
    """An int8 value in all four bytes of a word, as int32."""
    return int(np.array([(v & 0xFF) * 0x01010101], np.uint32).view(np.int32)[0])


def pack_stream(weights: np.ndarray, bias: np.ndarray, requant: np.ndarray, act_min: int, act_max: int,
                scale: int) -> np.ndarray:
    """The kernel's stream: for each group of four channels (zero-padded), 4 bias words, per tap pair
    (2j, 2j+1) one word {w[2j][k], w[2j+1][k]} per channel k, an odd last tap as {w[k0], w[k2]}, {w[k1], w[k3]},
    then RQ_WORDS: requant's three words per channel, act_min and act_max in every byte.
    weights [taps][channels], bias [channels] (already folded), requant [channels][3]; scale 2 doubles the
    weights and the bias (the fused requantization reads twice the sum)."""
    taps, c = weights.shape
    c4 = -(-c // 4) * 4
    wt = np.zeros((taps, c4), np.int64)
    wt[:, :c] = weights.astype(np.int64) * scale
    b = np.zeros(c4, np.int64)
    b[:c] = bias.astype(np.int64) * scale
    rq = np.zeros((c4, 3), np.int64)
    rq[:c] = requant
    groups = []
    for g in range(0, c4, 4):
        w = wt[:, g:g + 4]
        parts = [b[g:g + 4].astype(np.int32)]
        for j in range(taps // 2):
            parts.append(_words(w[2 * j], w[2 * j + 1]))
        if taps % 2:
            last = w[taps - 1]
            parts.append(_words(last[[0, 1]], last[[2, 3]]))
        parts.append(rq[g:g + 4].reshape(-1).astype(np.int32))
        parts.append(np.array([_bytes4(act_min), _bytes4(act_max)], np.int32))
        groups.append(np.concatenate(parts))
    return np.concatenate(groups).astype(np.int32)


def loop9_stream(stream: np.ndarray, clamped: bool) -> np.ndarray:
    """The 3x3 entry's stream (td_dwp_loop9_fn in depthwise_conv2d_s8_opt.h) from pack_stream's (9 taps,
    fused): the last group's e word of channel 3 marks the end of a pixel (0x100, above the shift's low
    byte), and without clamping (the activation range is all of int8) the lo/hi words are left out."""
    per_group = 4 + 4 * 4 + 2 + RQ_WORDS
    groups = stream.reshape(-1, per_group).copy()
    groups[-1, per_group - 3] |= 0x100  # {mult, round, e} x 4, lo, hi: channel 3's e is third from the end
    return (groups if clamped else groups[:, :per_group - 2]).reshape(-1)


def window_offsets(geo: dict[str, int]) -> np.ndarray:
    """Byte offset of each tap (ky, kx) from the window origin in an NHWC input."""
    ky, kx = np.meshgrid(np.arange(geo["k_h"]), np.arange(geo["k_w"]), indexing="ij")
    return ((ky * geo["dil_h"] * geo["in_w"] + kx * geo["dil_w"]) * geo["in_c"]).reshape(-1).astype(np.int32)


def mixes_filter_sizes(ctx: LoweringContext) -> bool:
    """Whether the model has depthwise layers other than 3x3 (MobileNetV3's 5x5): they link the generic
    packed path, and its 3x3 layers then take it too rather than also linking the 3x3 entry and its loop
    (~1.3 KB, which put MobileNetV3Small's code above the reference engine's; ~2 % more instructions)."""
    sizes = {tuple(ctx.model.tensors[op.inputs[1]].shape[1:3]) for op in ctx.model.operators
             if op.opcode == "DEPTHWISE_CONV_2D" and len(op.inputs) > 1}
    return bool(sizes - {(3, 3)})


def lower_depthwise_packed(op: Operator, ctx: LoweringContext, geo: dict[str, int], w: Tensor,
                           q: dict[str, int], folded: np.ndarray | None) -> bool:
    """Emit td_depthwise_conv2d_s8_packed when it applies (else False: the caller picks another kernel)."""
    taps, c = geo["k_h"] * geo["k_w"], geo["out_c"]
    geom = geom16({**geo, **q}, DEPTHWISE_FIELDS)
    if (not packed_kernels_apply(ctx) or geo["depth_multiplier"] != 1 or folded is None or taps > MAX_TAPS
            or geom is None):
        return False
    x, y = ctx.input(op, 0), ctx.output(op, 0)
    input_offset, act_min, act_max = q["input_offset"], q["act_min"], q["act_max"]
    weights = w.data.reshape(taps, c)
    bias = ctx.input(op, 2).data.astype(np.int64).reshape(-1) if ctx.has_input(op, 2) else np.zeros(c, np.int64)
    widest = max(abs(-128 + input_offset), abs(127 + input_offset))
    bound = np.abs(bias) + np.abs(weights.astype(np.int64)).sum(axis=0) * widest
    mult, shift = requant_arrays(op, ctx, w, c)
    table = fast_requant_table(bound, mult, shift, quant_of(y)[1])
    if table is not None:  # {mult, e, round} -> {mult, round, e}; |2 * acc| < 2^31 (bound < 2^30)
        requant = table.astype(np.int64).reshape(c, 3)[:, [0, 2, 1]]
    else:
        requant = np.stack([mult, shift, np.zeros(c, np.int64)], axis=1)
    stream = pack_stream(weights, folded, requant, act_min, act_max, 2 if table is not None else 1)
    c4 = -(-c // 4) * 4
    zp_row = ctx.const("zp_row", np.full(c4, -input_offset, np.int8), "int8_t", align=4) \
        if touches_padding(geo) else "NULL"
    # the 3x3 entry links only its loop (fused requantization, no channel tail), one of four: clamping only
    # for an activation range narrower than int8, the rounding's sign term only when act_min is below the
    # output zero point (a negative accumulator cannot end above act_min otherwise)
    loop9 = "NULL"
    if taps == 9 and c % 4 == 0 and table is not None and not mixes_filter_sizes(ctx):
        clamped = (act_min, act_max) != (-128, 127)
        relu = "_relu" if act_min >= q["output_offset"] else ""
        loop9 = f"td_dwp_loop9_{'clamp' if clamped else 'full'}{relu}"
        stream = loop9_stream(stream, clamped)
    ctx.kernel("depthwise_conv2d_s8_opt")
    desc = ctx.struct("op", "td_depthwise_conv2d_s8_packed_op", {
        "geom": geom, "input": ctx.ptr(x), "output": ctx.ptr(y),
        "stream": ctx.const("dw_stream", stream, "int32_t", align=8),
        "window": ctx.const("dw_window", window_offsets(geo), "int32_t", align=4),
        "zp_row": zp_row, "fused": int(table is not None), "loop9": loop9})
    ctx.emit(f"td_depthwise_conv2d_s8_packed{'_3x3' if loop9 != 'NULL' else ''}({desc});")
    return True
