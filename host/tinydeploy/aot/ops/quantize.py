"""QUANTIZE (float32 -> int8/int16, int8 -> int8 and int16 -> int16 requantize) and DEQUANTIZE (int8/int16 -> float32)."""

from __future__ import annotations

from tinydeploy.aot.codegen import c_float
from tinydeploy.aot.lowering import LoweringContext, lowering, quant_of
from tinydeploy.aot.quant import quantize_multiplier
from tinydeploy.model.graph import Operator, Tensor


def _per_tensor(op: Operator, ctx: LoweringContext, t: Tensor) -> tuple[float, int]:
    if t.quant is None or not t.quant.scale.size:
        raise ctx.unsupported(op, f"tensor '{t.name}' is not quantized")
    if t.quant.per_channel:
        raise ctx.unsupported(op, f"tensor '{t.name}' is quantized per channel")
    return quant_of(t)


@lowering("QUANTIZE")
def lower_quantize(op: Operator, ctx: LoweringContext) -> None:
    x, y = ctx.input(op, 0), ctx.output(op, 0)
    out_scale, out_zp = _per_tensor(op, ctx, y)
    ctx.kernel("quantize")
    n = y.size
    if x.dtype == "float32" and y.dtype in ("int8", "int16"):
        fn = "td_quantize_f32_s8" if y.dtype == "int8" else "td_quantize_f32_s16"
        ctx.emit(f"{fn}({ctx.ptr(x)}, {ctx.ptr(y)}, {n}, {c_float(out_scale)}, {out_zp});")
    elif x.dtype == "int8" and y.dtype == "int8":
        in_scale, in_zp = _per_tensor(op, ctx, x)
        # TFLM: effective scale in double from the float32 scales, then QuantizeMultiplier.
        mult, shift = quantize_multiplier(float(in_scale) / float(out_scale))
        ctx.allow_inplace(op, x, y)
        ctx.emit(f"td_requantize_s8_s8({ctx.ptr(x)}, {ctx.ptr(y)}, {n}, {in_zp}, {mult}, {shift}, {out_zp});")
    elif x.dtype == "int16" and y.dtype == "int16":  # TFLM's Requantize, as for int8
        in_scale, in_zp = _per_tensor(op, ctx, x)
        mult, shift = quantize_multiplier(float(in_scale) / float(out_scale))
        ctx.kernel("requantize_s16")
        ctx.allow_inplace(op, x, y)
        ctx.emit(f"td_requantize_s16_s16({ctx.ptr(x)}, {ctx.ptr(y)}, {n}, {in_zp}, {mult}, {shift}, {out_zp});")
    else:
        raise ctx.unsupported(op, f"{x.dtype} -> {y.dtype}")


@lowering("DEQUANTIZE")
def lower_dequantize(op: Operator, ctx: LoweringContext) -> None:
    x, y = ctx.input(op, 0), ctx.output(op, 0)
    if y.dtype != "float32" or x.dtype not in ("int8", "int16"):
        raise ctx.unsupported(op, f"{x.dtype} -> {y.dtype}")
    scale, zp = _per_tensor(op, ctx, x)
    ctx.kernel("dequantize")
    fn = "td_dequantize_s8_f32" if x.dtype == "int8" else "td_dequantize_s16_f32"
    ctx.emit(f"{fn}({ctx.ptr(x)}, {ctx.ptr(y)}, {x.size}, (double){c_float(scale)}, {zp});")
