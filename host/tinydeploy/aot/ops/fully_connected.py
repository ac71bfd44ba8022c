"""FULLY_CONNECTED lowering: int8 (per-tensor or per-channel weights), 16x8 (int16x8.py) and float32, any batch,
keep_num_dims."""

from __future__ import annotations

import numpy as np

from tinydeploy.aot.lowering import LoweringContext, lowering, quant_of
from tinydeploy.aot.ops.conv2d import (
    CONV_FIELDS,
    bias_ptr,
    fast_requant_table,
    float_activation,
    folded_bias,
    gemm_fits,
    geom16,
    lower_conv2d_gemm,
    packed_kernels_apply,
    pack_rows,
    rq_ptr,
)
from tinydeploy.aot.ops.conv_mve import lower_fully_connected_mve
from tinydeploy.aot.ops.int16x8 import lower_fully_connected_s16
from tinydeploy.aot.quant import activation_range_s8, per_channel_multipliers
from tinydeploy.model.graph import Operator


def _largest_fc_macs(ctx: LoweringContext) -> int:
    """The multiply-accumulates of the model's largest FULLY_CONNECTED layer: once one layer links the
    optimized kernel, the small ones ride along for free; a model with only a small classifier head keeps
    the reference kernel."""
    best = 0
    for op in ctx.model.operators:
        if op.opcode == "FULLY_CONNECTED" and len(op.inputs) > 1 and op.inputs[1] >= 0:
            x, w = ctx.model.tensors[op.inputs[0]], ctx.model.tensors[op.inputs[1]]
            best = max(best, int(np.prod(x.shape)) * (w.shape[0] if len(w.shape) == 2 else 0))
    return best


def _gemm_linked(ctx: LoweringContext) -> bool:
    """Whether the model's convolutions run on td_conv2d_s8_gemm (int8 CONV_2D on a core without Helium)."""
    return packed_kernels_apply(ctx) and any(
        op.opcode == "CONV_2D" and ctx.model.tensors[op.inputs[0]].dtype == "int8" for op in ctx.model.operators)


def _emit_optimized(op: Operator, ctx: LoweringContext, params: str, w, folded: np.ndarray, mult, shift,
                    out_zp: int, per_channel: bool) -> None:
    x, y = ctx.input(op, 0), ctx.output(op, 0)
    out_c = w.shape[0]
    ctx.kernel("fully_connected_s8_opt")
    if not packed_kernels_apply(ctx):  # Helium keeps the plain layout
        ctx.emit(f"td_fully_connected_s8_opt({params}, {ctx.ptr(x)}, {ctx.ptr(w)}, "
                 f"{ctx.const('folded_bias', folded, 'int32_t')}, "
                 f"{ctx.const('mult', mult, 'int32_t')}, {ctx.const('shift', shift, 'int32_t')}, {ctx.ptr(y)});")
        return
    rows = w.data.astype(np.int64)
    bound = np.abs(folded.astype(np.int64)) + 128 * np.abs(rows).sum(axis=1)  # |acc|, raw int8 inputs
    # one table entry per unit, or one for all (per-tensor weights): bound the worst unit
    table = fast_requant_table(bound if per_channel else np.array([bound.max(initial=0)]),
                               np.asarray(mult, dtype=np.int64), np.asarray(shift, dtype=np.int64), out_zp)
    padded = np.concatenate([folded, np.zeros(-out_c % 4, np.int32)])  # a whole number of groups
    weights = ctx.const("packed_weights", pack_rows(w.data, 4), "int8_t")
    bias = ctx.const("folded_bias", padded, "int32_t")
    if table is not None and w.shape[1] % 8 == 0:  # the specialized kernel: no tails, fast requantization
        # its DSP form reads four entries per group of four units: the last group's padded, or four copies of
        # a per-tensor entry
        table = (np.concatenate([table, np.zeros(3 * (-out_c % 4), np.int32)]) if per_channel
                 else np.tile(table, 4))
        ctx.emit(f"td_fully_connected_s8_packed4_fast({params}, {ctx.ptr(x)}, {weights}, {bias}, {ctx.ptr(y)}, "
                 f"{rq_ptr(ctx, table)});")
        return
    ctx.emit(f"td_fully_connected_s8_packed4({params}, {ctx.ptr(x)}, {weights}, {bias}, "
             f"{ctx.const('mult', mult, 'int32_t')}, {ctx.const('shift', shift, 'int32_t')}, {ctx.ptr(y)}, "
             f"{rq_ptr(ctx, table)});")


@lowering("FULLY_CONNECTED")
def lower_fully_connected(op: Operator, ctx: LoweringContext) -> None:
    x, w, y = ctx.input(op, 0), ctx.input(op, 1), ctx.output(op, 0)
    o = op.options
    if o.get("weights_format", 0) != 0:
        raise ctx.unsupported(op, "shuffled weights format")
    if not w.is_constant:
        raise ctx.unsupported(op, f"weights '{w.name}' are not a constant")
    if len(w.shape) != 2:
        raise ctx.unsupported(op, f"weights shape {list(w.shape)}")
    out_c, depth = w.shape
    if x.size % depth:
        raise ctx.unsupported(op, f"input of {x.size} values is not a multiple of the depth {depth}")
    batches = x.size // depth
    if y.size != batches * out_c:
        raise ctx.unsupported(op, f"output shape {list(y.shape)} for {batches} x {out_c}")
    kinds = (x.dtype, w.dtype, y.dtype)
    if kinds == ("int8", "int8", "int8"):
        if w.quant is None or not w.quant.scale.size:
            raise ctx.unsupported(op, f"weights '{w.name}' are not quantized")
        in_scale, in_zp = quant_of(x)
        out_scale, out_zp = quant_of(y)
        per_channel = w.quant.scale.size > 1
        if per_channel and w.quant.scale.size != out_c:
            raise ctx.unsupported(op, f"{w.quant.scale.size} weight scales for {out_c} units")
        mult, shift = per_channel_multipliers(in_scale, w.quant.scale, out_scale)
        filter_zp = int(w.quant.zero_point[0])
        if per_channel and np.any(w.quant.zero_point != 0):
            raise ctx.unsupported(op, "per-channel weights with non-zero zero points")
        act = o.get("fused_activation_function", "NONE")
        try:
            lo, hi = activation_range_s8(act, out_scale, out_zp)
        except ValueError:
            raise ctx.unsupported(op, f"fused activation {act}") from None
        worth_it = _largest_fc_macs(ctx) > ctx.target.small_layer_macs
        if filter_zp == 0 and lower_fully_connected_mve(op, ctx, batches, depth, out_c, {  # Helium cores
                "input_offset": -in_zp, "output_offset": out_zp, "act_min": lo, "act_max": hi}):
            return
        if ctx.target.optimized and filter_zp == 0 and not worth_it and _gemm_linked(ctx):
            folded = folded_bias(op, ctx, w, -in_zp, 0)
            geo = {"batches": batches, "in_h": 1, "in_w": 1, "in_c": depth, "out_h": 1, "out_w": 1, "out_c": out_c,
                   "k_h": 1, "k_w": 1, "stride_h": 1, "stride_w": 1, "dil_h": 1, "dil_w": 1, "pad_h": 0, "pad_w": 0}
            fields = {**geo, "input_offset": -in_zp, "output_offset": out_zp, "act_min": lo, "act_max": hi}
            if folded is not None and geom16(fields, CONV_FIELDS) and gemm_fits(ctx, geo):
                # a small head as a 1x1 convolution on the GEMM kernel the model links anyway: no FC code
                lower_conv2d_gemm(op, ctx, geo, w, fields, folded)
                return
        params = ctx.struct("params", "td_fully_connected_s8_params", {
            "batches": batches, "depth": depth, "out_c": out_c, "input_offset": -in_zp,
            "filter_offset": -filter_zp, "output_offset": out_zp, "act_min": lo, "act_max": hi,
            "per_channel": int(per_channel)})
        folded = (folded_bias(op, ctx, w, -in_zp, 0)
                  if ctx.target.optimized and filter_zp == 0 and worth_it else None)
        if folded is not None:
            _emit_optimized(op, ctx, params, w, folded, mult, shift, out_zp, per_channel)
            return
        ctx.kernel("fully_connected_s8")
        ctx.emit(f"td_fully_connected_s8({params}, {ctx.ptr(x)}, {ctx.ptr(w)}, {bias_ptr(op, ctx, 2, 'int32_t')}, "
                 f"{ctx.const('mult', mult, 'int32_t')}, {ctx.const('shift', shift, 'int32_t')}, {ctx.ptr(y)});")
    elif kinds == ("int16", "int8", "int16"):
        lower_fully_connected_s16(op, ctx, batches, depth, out_c)
    elif kinds == ("float32", "float32", "float32"):
        params = ctx.struct("params", "td_fully_connected_f32_params",
                            {"batches": batches, "depth": depth, "out_c": out_c, **float_activation(op, ctx)})
        ctx.kernel("fully_connected_f32")
        ctx.emit(f"td_fully_connected_f32({params}, {ctx.ptr(x)}, {ctx.ptr(w)}, {bias_ptr(op, ctx, 2, 'float')}, "
                 f"{ctx.ptr(y)});")
    else:
        raise ctx.unsupported(op, f"input/weights/output types {'/'.join(kinds)}")
