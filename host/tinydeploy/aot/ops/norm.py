"""Lowerings of LOG_SOFTMAX (float32, int8) and L2_NORMALIZATION (float32, int8), bit-exact with TFLite Micro.

Both work on rows of the last axis.  The int8 kernels (firmware/aot/kernels/log_softmax.c,
l2_normalization.c) run TFLM's gemmlowp fixed-point arithmetic; what TFLM computes in Prepare() is computed
here: LOG_SOFTMAX's input scaling into Q5.26 (the SOFTMAX scaling with beta 1), its inverse (reverse
scaling) and diff_min.  L2_NORMALIZATION has no parameters but the input zero point: TFLM ignores the output
quantization (the result is always in 1/128 units, zero point 0), so do we.
"""

from __future__ import annotations

from tinydeploy.aot.lowering import LoweringContext, lowering
from tinydeploy.aot.ops.elementwise import check_quantized, scale_zp
from tinydeploy.aot.ops.nonlinear import softmax_params
from tinydeploy.aot.quant import quantize_multiplier
from tinydeploy.model.graph import Operator, Tensor

LOG_SOFTMAX_OUTPUT = (16.0 / 256, 127)  # the only int8 output quantization TFLM's LOG_SOFTMAX accepts


def _rows(t: Tensor) -> tuple[int, int]:
    """(outer, depth): the tensor as rows of its last axis."""
    depth = int(t.shape[-1]) if t.shape else 1
    return (t.size // depth if depth else 0), depth


def _same_shape(op: Operator, ctx: LoweringContext, x: Tensor, y: Tensor) -> None:
    if x.dtype != y.dtype:
        raise ctx.unsupported(op, f"{op.opcode} from {x.dtype} to {y.dtype}: TFLite Micro and aot need the "
                                  "same input and output dtype")
    if tuple(x.shape) != tuple(y.shape):
        raise ctx.unsupported(op, f"input {list(x.shape)} and output {list(y.shape)} differ")


@lowering("LOG_SOFTMAX")
def lower_log_softmax(op: Operator, ctx: LoweringContext) -> None:
    x, y = ctx.input(op, 0), ctx.output(op, 0)
    _same_shape(op, ctx, x, y)
    outer, depth = _rows(x)
    ctx.kernel("log_softmax")
    ctx.allow_inplace(op, x, y)  # each row is read whole (max, sum) before any of it is written
    if x.dtype == "float32":
        ctx.emit(f"td_log_softmax_f32({ctx.ptr(x)}, {ctx.ptr(y)}, {outer}, {depth});")
        return
    if x.dtype != "int8":
        raise ctx.unsupported(op, f"LOG_SOFTMAX on {x.dtype}: TFLite Micro and aot run it on float32 and int8")
    check_quantized(op, ctx, x, y)
    out_scale, out_zp = scale_zp(y)
    if (out_scale, out_zp) != LOG_SOFTMAX_OUTPUT:
        raise ctx.unsupported(op, f"int8 LOG_SOFTMAX output must have scale 16/256 and zero point 127 (has "
                                  f"{out_scale:g}, {out_zp}); TFLite Micro rejects it too: re-convert the model")
    multiplier, left_shift, reverse_multiplier, reverse_shift, diff_min = log_softmax_params(scale_zp(x)[0])
    if reverse_shift > 0:
        raise ctx.unsupported(op, f"input scale {scale_zp(x)[0]:g} is too large for TFLite Micro's int8 "
                                  "LOG_SOFTMAX (its Prepare check fails): calibrate on a smaller input range")
    ctx.emit(f"td_log_softmax_s8({ctx.ptr(x)}, {ctx.ptr(y)}, {outer}, {depth}, {multiplier}, {left_shift}, "
             f"{reverse_multiplier}, {reverse_shift}, {diff_min});")


def log_softmax_params(input_scale: float) -> tuple[int, int, int, int, int]:
    """TFLM's int8 LOG_SOFTMAX Prepare (PreprocessLogSoftmaxScalingExp with beta 1, 5 integer bits):
    (input multiplier, input left shift, reverse multiplier, reverse shift (<= 0 unless TFLM would refuse
    the op), diff_min)."""
    p = softmax_params(1.0, input_scale)
    real_reverse = float(1 << (31 - p.beta_left_shift)) / float(p.beta_multiplier)
    reverse_multiplier, reverse_shift = quantize_multiplier(real_reverse)
    return p.beta_multiplier, p.beta_left_shift, reverse_multiplier, reverse_shift, p.diff_min


@lowering("L2_NORMALIZATION")
def lower_l2_normalization(op: Operator, ctx: LoweringContext) -> None:
    x, y = ctx.input(op, 0), ctx.output(op, 0)
    _same_shape(op, ctx, x, y)
    act = op.options.get("fused_activation_function", "NONE")
    if act != "NONE":
        raise ctx.unsupported(op, f"fused activation {act}: TFLite Micro's L2_NORMALIZATION has none either")
    if len(x.shape) > 4:
        raise ctx.unsupported(op, f"{len(x.shape)}-D input: TFLite Micro's L2_NORMALIZATION takes at most 4-D")
    outer, depth = _rows(x)
    ctx.kernel("l2_normalization")
    ctx.allow_inplace(op, x, y)  # a row's sum of squares is taken before it is written, element by element
    if x.dtype == "float32":
        ctx.emit(f"td_l2_normalization_f32({ctx.ptr(x)}, {ctx.ptr(y)}, {outer}, {depth});")
        return
    if x.dtype != "int8":
        raise ctx.unsupported(op, f"L2_NORMALIZATION on {x.dtype}: TFLite Micro and aot run it on float32 "
                                  "and int8")
    check_quantized(op, ctx, x)
    ctx.emit(f"td_l2_normalization_s8({ctx.ptr(x)}, {ctx.ptr(y)}, {outer}, {depth}, {scale_zp(x)[1]});")
