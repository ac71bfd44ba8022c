"""Helium (Cortex-M55, MVE) lowerings of int8 CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED: firmware/aot/
kernels/conv2d_s8_mve.c and depthwise_conv2d_s8_mve.c.  conv2d.py, depthwise_conv2d.py and fully_connected.py
call these first when the board's core has Helium (TargetFeatures.mve); each returns False when its kernel
does not cover the layer, and the layer keeps its other kernels.

Both kernels requantize four channels at a time on int32 lanes (td_requant_mve.h) from one table per group
of four channels: the per-channel int32 rows the kernel adds first (biases), then TFLM's multiplier, its left
shift and minus its right shift (QuantizeMultiplier's shift split in two); a per-tensor FULLY_CONNECTED
without convolutions in the model keeps the three once and only its biases per unit.  Descriptors name the
code a layer needs (im2col or rows in place, the per-pixel depthwise path or none), so a firmware links only
what its layers use.
"""

from __future__ import annotations

import numpy as np

from tinydeploy.aot.lowering import LoweringContext
from tinydeploy.aot.ops.conv2d import (
    CONV_FIELDS,
    DEPTHWISE_FIELDS,
    folded_bias,
    geom16,
    is_unpadded_pointwise,
    requant_arrays,
)
from tinydeploy.model.graph import Model, Operator, Tensor

LANES = 4  # int32 lanes of a Helium vector: the channel group of the requantization
# TD_CONV2D_S8_MVE_STACK_ROWS: im2col rows up to this many bytes live in td_conv2d_s8_mve_stack's frame, not
# in the arena (a 3x3 layer over 16 channels sits where its input, output and a residual skip are all live)
STACK_ROWS = 288


def _pad_channels(values: np.ndarray, groups: int) -> np.ndarray:
    values = np.asarray(values, dtype=np.int64).reshape(-1)
    return np.concatenate([values, np.zeros(groups * LANES - values.size, np.int64)])


def mve_requant_table(rows: list[np.ndarray], mult: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """Per group of four channels: each of `rows` (e.g. folded bias), multiplier, left shift, -right shift,
    four int32 each; padding channels get zeros (multiplier 0: their outputs are never stored)."""
    channels = len(mult)
    groups = -(-channels // LANES)
    shift = np.asarray(shift, dtype=np.int64)
    columns = [*rows, mult, np.maximum(shift, 0), np.minimum(shift, 0)]
    table = np.stack([_pad_channels(c, groups).reshape(groups, LANES) for c in columns], axis=1)
    return table.reshape(-1).astype(np.int32)


def pack_rows16x4(rows: np.ndarray) -> np.ndarray:
    """Filter rows [out_c, n] as td_conv2d_s8_mve reads them: per group of four rows, per 16-column chunk,
    the chunk of each row in turn; rows zero-padded to a multiple of 16 columns and of four."""
    rows = np.asarray(rows, dtype=np.int8)
    out_c, n = rows.shape
    groups, chunks = -(-out_c // LANES), -(-n // 16)
    padded = np.zeros((groups * LANES, chunks * 16), np.int8)
    padded[:out_c, :n] = rows
    return padded.reshape(groups, LANES, chunks, 16).transpose(0, 2, 1, 3).reshape(-1)


def _live_spans(model: Model) -> list[tuple[int, int, int, int]]:
    """(tensor, first op, last op, bytes) of every activation: made at `first` (the model's inputs at -1),
    read until `last` (the model's outputs to the end)."""
    end = len(model.operators)
    first = {t: -1 for t in model.inputs}
    last = {t: end for t in model.outputs}
    for i, o in enumerate(model.operators):
        for t in o.outputs:
            first.setdefault(t, i)
        for t in o.inputs:
            if t >= 0 and not model.tensors[t].is_constant:
                last[t] = max(last.get(t, i), i)
    return [(t, first[t], last[t], model.tensors[t].nbytes) for t in first if t in last]


def _scratch_at_peak(model: Model, op: Operator, scratch: int) -> bool:
    """Whether an arena scratch for `op` would likely raise the arena's peak: an activation the op does not
    touch waits across it (a residual skip: no output written over an input makes room beside it) and the op's
    live activations come within `scratch` bytes of the model's largest live set (resnet8's 3x3 layers over
    16 channels).  Elsewhere the planner finds the bytes free (outputs written over inputs)."""
    spans = _live_spans(model)
    index = next((i for i, o in enumerate(model.operators) if o is op), None)
    if index is None:  # an op lowered outside the model's list (a band of another op): keep the arena
        return False
    live = [sum(n for _, a, b, n in spans if a <= i <= b) for i in range(len(model.operators))]
    touched = set(op.inputs) | set(op.outputs)
    waiting = any(a < index < b and t not in touched for t, a, b, _ in spans)
    return waiting and live[index] + scratch > max(live)


def lower_conv2d_mve(op: Operator, ctx: LoweringContext, geo: dict[str, int], w: Tensor, q: dict[str, int],
                     folded: np.ndarray | None) -> bool:
    """td_conv2d_s8_mve for an int8 CONV_2D whose folded bias fits int32 and geometry fits int16."""
    if not ctx.target.mve or not ctx.target.optimized or folded is None:
        return False
    geom = geom16({**geo, **q}, CONV_FIELDS)
    if geom is None:
        return False
    x, y = ctx.input(op, 0), ctx.output(op, 0)
    n = geo["k_h"] * geo["k_w"] * geo["in_c"]
    mult, shift = requant_arrays(op, ctx, w, geo["out_c"])
    in_place = is_unpadded_pointwise(geo)
    rows = 2 * (-(-n // 16) * 16)  # im2col: two receptive fields, each rounded up to whole 16-byte chunks
    on_stack = not in_place and rows <= STACK_ROWS and _scratch_at_peak(ctx.model, op, rows)
    scratch = "NULL" if in_place or on_stack else f"(int8_t *){ctx.scratch(op, rows, align=16)}"
    ctx.kernel("conv2d_s8_mve")
    desc = ctx.struct("op", "td_conv2d_s8_mve_op", {
        "geom": geom, "input": ctx.ptr(x), "output": ctx.ptr(y),
        "packed": ctx.const("packed_filter", pack_rows16x4(w.data.reshape(geo["out_c"], n)), "int8_t"),
        "rq": ctx.const("requant", mve_requant_table([folded], mult, shift), "int32_t"),
        # named per layer: a firmware whose layers all read rows in place links no im2col code
        "scratch": scratch, "field": "td_conv2d_s8_mve_row" if in_place else "td_conv2d_s8_mve_im2col"})
    ctx.emit(f"td_conv2d_s8_mve{'_stack' if on_stack else ''}({desc});")
    return True


DW_LANES = 8  # int16 lanes: the depthwise kernel's channel group


def lower_depthwise_mve(op: Operator, ctx: LoweringContext, geo: dict[str, int], w: Tensor, q: dict[str, int],
                        folded: np.ndarray | None) -> bool:
    """td_depthwise_conv2d_s8_mve for an int8 DEPTHWISE_CONV_2D with depth multiplier 1 whose folded bias
    fits int32 and geometry fits int16."""
    if not ctx.target.mve or not ctx.target.optimized or folded is None or geo["depth_multiplier"] != 1:
        return False
    geom = geom16({**geo, **q}, DEPTHWISE_FIELDS)
    if geom is None:
        return False
    x, y = ctx.input(op, 0), ctx.output(op, 0)
    c, taps = geo["out_c"], geo["k_h"] * geo["k_w"]
    groups = -(-c // DW_LANES)
    padded = np.zeros((taps, groups * DW_LANES), np.int16)
    padded[:, :c] = w.data.reshape(taps, c)
    packed = padded.reshape(taps, groups, DW_LANES).transpose(1, 0, 2).reshape(-1)  # [group][tap][8]
    bias = ctx.input(op, 2).data.astype(np.int64).reshape(-1) if ctx.has_input(op, 2) else np.zeros(c, np.int64)
    mult, shift = requant_arrays(op, ctx, w, c)
    # per group of eight: the even channels' four lanes, then the odd ones' (VMULLB / VMULLT order)
    order = (np.arange(groups)[:, None] * DW_LANES + np.array([0, 2, 4, 6, 1, 3, 5, 7])).reshape(-1)

    def lanes(values: np.ndarray) -> np.ndarray:
        return np.concatenate([np.asarray(values, np.int64), np.zeros(groups * DW_LANES - c, np.int64)])[order]

    table = mve_requant_table([lanes(folded), lanes(bias)], lanes(mult), lanes(shift))
    three = (geo["k_h"], geo["k_w"]) == (3, 3)
    ctx.kernel("depthwise_conv2d_s8_mve")
    desc = ctx.struct("op", "td_depthwise_conv2d_s8_mve_op", {
        "geom": geom, "input": ctx.ptr(x), "output": ctx.ptr(y),
        "packed": ctx.const("packed_filter", packed, "int16_t"),
        "rq": ctx.const("requant", table, "int32_t"),
        # 3x3: every window through nine tap pointers, those in the padding at the zero point
        "zp_row": ctx.const("zp_row", np.full(groups * DW_LANES, -q["input_offset"], np.int8), "int8_t")
        if three else "NULL",
        # the per-pixel C path: other filters, and a partial last group of eight channels
        "rest": "NULL" if three and c % DW_LANES == 0 else "td_depthwise_conv2d_s8_mve_pixel"})
    ctx.emit(f"td_depthwise_conv2d_s8_mve({desc});")
    return True


def lower_fully_connected_mve(op: Operator, ctx: LoweringContext, batches: int, depth: int, out_c: int,
                              q: dict[str, int]) -> bool:
    """An int8 FULLY_CONNECTED (weights' zero point 0) on the Helium matrix product, each input row read in
    place: as a 1x1 convolution on td_conv2d_s8_mve where the model's convolutions link that driver anyway,
    else on td_fully_connected_s8_mve's short one (per-tensor weights: _pt, whose table holds the one
    multiplier and shifts once and then only biases, 4 bytes a unit instead of 16).  q: input_offset,
    output_offset, act_min, act_max."""
    if not ctx.target.mve or not ctx.target.optimized:
        return False
    w = ctx.input(op, 1)
    folded = folded_bias(op, ctx, w, q["input_offset"], 0)
    if any(o.opcode == "CONV_2D" and ctx.model.tensors[o.inputs[0]].dtype == "int8" for o in ctx.model.operators):
        geo = {"batches": batches, "in_h": 1, "in_w": 1, "in_c": depth, "out_h": 1, "out_w": 1, "out_c": out_c,
               "k_h": 1, "k_w": 1, "stride_h": 1, "stride_w": 1, "dil_h": 1, "dil_w": 1, "pad_h": 0, "pad_w": 0}
        return lower_conv2d_mve(op, ctx, geo, w, q, folded)
    fields = {"rows": batches, "depth": depth, "units": out_c, "output_offset": q["output_offset"],
              "act_min": q["act_min"], "act_max": q["act_max"]}
    if folded is None or any(not -(1 << 15) <= v < (1 << 15) for v in fields.values()):
        return False
    mult, shift = requant_arrays(op, ctx, w, out_c)
    per_tensor = w.quant.scale.size == 1
    if per_tensor:
        table = np.concatenate([np.repeat([mult[0], max(shift[0], 0), min(shift[0], 0)], LANES),
                                _pad_channels(folded, -(-out_c // LANES))]).astype(np.int32)
    else:
        table = mve_requant_table([folded], mult, shift)
    ctx.kernel("conv2d_s8_mve")
    desc = ctx.struct("op", "td_fully_connected_s8_mve_op", {
        **fields, "input": ctx.ptr(ctx.input(op, 0)), "output": ctx.ptr(ctx.output(op, 0)),
        "packed": ctx.const("packed_filter", pack_rows16x4(w.data.reshape(out_c, depth)), "int8_t"),
        "rq": ctx.const("requant", table, "int32_t")})
    ctx.emit(f"td_fully_connected_s8_mve{'_pt' if per_tensor else ''}({desc});")
    return True
