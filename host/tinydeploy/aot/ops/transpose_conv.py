"""TRANSPOSE_CONV lowering: float32, int8 (per-channel filter) and int16x8, as TFLite Micro runs them.

Inputs are (output_shape, filter [out_c, k_h, k_w, in_c], input, optional bias); TFLM ignores the shape
operand and takes the output tensor's dims, so this lowering checks that both agree.  TFLM's padding is
ComputePaddingHeightWidth with the *output* size in the role of the input size (dilation 1).  Requantization
as in TFLM's Prepare (PopulateConvolutionQuantizationParams); int16x8 accumulates in int64 with an int64 bias
(an int16 bias is widened here, as TFLM widens it at run time).  Kernel: firmware/aot/kernels/transpose_conv.c.
"""

from __future__ import annotations

import numpy as np

from tinydeploy.aot.lowering import LoweringContext, activation_range_f32, compute_padding, lowering, quant_of
from tinydeploy.aot.quant import activation_range_s8, per_channel_multipliers
from tinydeploy.model.graph import Operator, Tensor

FILTER, INPUT, BIAS = 1, 2, 3
KINDS = {("float32", "float32", "float32"): "f32", ("int8", "int8", "int8"): "s8",
         ("int16", "int8", "int16"): "s16"}


def _geometry(op: Operator, ctx: LoweringContext, x: Tensor, w: Tensor, y: Tensor) -> dict[str, int]:
    if len(x.shape) != 4 or len(w.shape) != 4 or len(y.shape) != 4:
        raise ctx.unsupported(op, f"input {list(x.shape)}, filter {list(w.shape)} and output {list(y.shape)} "
                                  "must be 4-D (NHWC, filter OHWI)")
    out_c, k_h, k_w, in_c = (int(d) for d in w.shape)
    n, in_h, in_w = (int(d) for d in x.shape[:3])
    if int(x.shape[3]) != in_c or int(y.shape[3]) != out_c or int(y.shape[0]) != n:
        raise ctx.unsupported(op, f"input {list(x.shape)}, filter {list(w.shape)} and output {list(y.shape)} "
                                  "disagree on batch or channels")
    shape_operand = ctx.input(op, 0)
    if shape_operand.is_constant and [int(v) for v in np.asarray(shape_operand.data).reshape(-1)] != list(y.shape):
        raise ctx.unsupported(op, f"output_shape {np.asarray(shape_operand.data).tolist()} differs from the "
                                  f"output tensor's {list(y.shape)}")
    o = op.options
    stride_h, stride_w = int(o.get("stride_h", 1)), int(o.get("stride_w", 1))
    padding = o.get("padding", "VALID")
    if padding not in ("SAME", "VALID"):
        raise ctx.unsupported(op, f"padding {padding}")
    if min(stride_h, stride_w) < 1:
        raise ctx.unsupported(op, "strides must be at least 1")
    out_h, out_w = int(y.shape[1]), int(y.shape[2])
    return {"batches": n, "in_h": in_h, "in_w": in_w, "in_c": in_c, "out_h": out_h, "out_w": out_w,
            "out_c": out_c, "k_h": k_h, "k_w": k_w, "stride_h": stride_h, "stride_w": stride_w,
            "pad_h": compute_padding(padding, out_h, k_h, stride_h)[1],
            "pad_w": compute_padding(padding, out_w, k_w, stride_w)[1]}


def _bias(op: Operator, ctx: LoweringContext, kind: str, out_c: int) -> str:
    if len(op.inputs) <= BIAS or op.inputs[BIAS] < 0:
        return "NULL"
    b = ctx.input(op, BIAS)
    if not b.is_constant or b.size != out_c:
        raise ctx.unsupported(op, f"bias '{b.name}' must be a constant of {out_c} values")
    wanted = {"f32": ("float32",), "s8": ("int32",), "s16": ("int64", "int16")}[kind]
    if b.dtype not in wanted:
        raise ctx.unsupported(op, f"bias '{b.name}' is {b.dtype}; TFLite Micro wants {' or '.join(wanted)} here")
    if b.dtype == "int16":  # TFLM widens an int16 bias to int64 before the kernel
        return ctx.const("bias64", np.asarray(b.data, dtype=np.int64).reshape(-1), "int64_t", align=8)
    return ctx.ptr(b)


def _quantized_fields(op: Operator, ctx: LoweringContext, x: Tensor, w: Tensor, y: Tensor, kind: str,
                      out_c: int) -> tuple[dict[str, int], str, str]:
    if w.quant is None or not w.quant.scale.size:
        raise ctx.unsupported(op, f"filter '{w.name}' is not quantized")
    if np.any(w.quant.zero_point != 0):
        raise ctx.unsupported(op, f"filter '{w.name}' has a non-zero zero point")
    scales = w.quant.scale if w.quant.scale.size > 1 else np.repeat(w.quant.scale, out_c)
    if scales.size != out_c:
        raise ctx.unsupported(op, f"filter has {scales.size} scales for {out_c} output channels")
    (in_scale, in_zp), (out_scale, out_zp) = quant_of(x), quant_of(y)
    if kind == "s16" and (in_zp, out_zp) != (0, 0):
        raise ctx.unsupported(op, "int16 input and output need zero point 0 (TFLite's 16x8 quantization)")
    mult, shift = per_channel_multipliers(in_scale, scales, out_scale)
    qmin, qmax = (-128, 127) if kind == "s8" else (-32768, 32767)
    act = op.options.get("fused_activation_function", "NONE")
    try:
        lo, hi = activation_range_s8(act, out_scale, out_zp, qmin, qmax)
    except ValueError:
        raise ctx.unsupported(op, f"fused activation {act}") from None
    fields = {"input_offset": -in_zp, "output_offset": out_zp, "act_min": lo, "act_max": hi}
    return fields, ctx.const("mult", mult, "int32_t"), ctx.const("shift", shift, "int32_t")


@lowering("TRANSPOSE_CONV")
def lower_transpose_conv(op: Operator, ctx: LoweringContext) -> None:
    w, x, y = ctx.input(op, FILTER), ctx.input(op, INPUT), ctx.output(op, 0)
    if not w.is_constant:
        raise ctx.unsupported(op, f"filter '{w.name}' is not a constant")
    kind = KINDS.get((x.dtype, w.dtype, y.dtype))
    if kind is None:
        raise ctx.unsupported(op, f"input/filter/output types {x.dtype}/{w.dtype}/{y.dtype}; TFLite Micro runs "
                                  "float32, int8 and int16 activations with int8 filters")
    geo = _geometry(op, ctx, x, w, y)
    bias = _bias(op, ctx, kind, geo["out_c"])
    ctx.kernel("transpose_conv")
    if kind == "f32":
        act = op.options.get("fused_activation_function", "NONE")
        try:
            lo, hi = activation_range_f32(act)
        except ValueError:
            raise ctx.unsupported(op, f"fused activation {act}") from None
        params = ctx.struct("params", "td_transpose_conv_params", {**geo, "f_act_min": lo, "f_act_max": hi})
        ctx.emit(f"td_transpose_conv_f32({params}, {ctx.ptr(x)}, {ctx.ptr(w)}, {bias}, {ctx.ptr(y)});")
        return
    fields, mult, shift = _quantized_fields(op, ctx, x, w, y, kind, geo["out_c"])
    params = ctx.struct("params", "td_transpose_conv_params", {**geo, **fields, "f_act_min": 0.0, "f_act_max": 0.0})
    ctx.emit(f"td_transpose_conv_{kind}({params}, {ctx.ptr(x)}, {ctx.ptr(w)}, {bias}, {mult}, {shift}, "
             f"{ctx.ptr(y)});")
