"""PRELU (int8 and float32, alpha broadcast against the input), bit-exact with TFLite Micro.

int8 follows TFLM's CalculatePreluParams: two multipliers in double from the float32 scales, in_scale /
out_scale for the positive side and in_scale * alpha_scale / out_scale for the product with alpha.  TFLM's
kernel is 4-D; the generator's 6-D broadcast view covers it.
"""

from __future__ import annotations

from tinydeploy.aot.lowering import LoweringContext, lowering
from tinydeploy.aot.ops.binary import emit_broadcast
from tinydeploy.aot.ops.elementwise import check_quantized, scale_zp
from tinydeploy.aot.quant import quantize_multiplier
from tinydeploy.model.graph import Operator, Tensor


def prelu_params(x: Tensor, alpha: Tensor, y: Tensor) -> dict[str, int]:
    sx, zx = scale_zp(x)
    sa, za = scale_zp(alpha)
    sy, zy = scale_zp(y)
    m1, s1 = quantize_multiplier(sx / sy)
    m2, s2 = quantize_multiplier(sx * sa / sy)
    return {"in_offset": -zx, "alpha_offset": -za, "out_offset": zy, "multiplier_1": m1, "shift_1": s1,
            "multiplier_2": m2, "shift_2": s2}


@lowering("PRELU")
def lower_prelu(op: Operator, ctx: LoweringContext) -> None:
    x, alpha, y = ctx.input(op, 0), ctx.input(op, 1), ctx.output(op, 0)
    if not (x.dtype == alpha.dtype == y.dtype) or y.dtype not in ("int8", "float32"):
        raise ctx.unsupported(op, f"PRELU with input {x.dtype}, alpha {alpha.dtype} -> {y.dtype}: aot runs int8 or "
                                  "float32 throughout (TFLite Micro's int16 PRELU is not supported here); "
                                  "quantize the model to int8")
    if tuple(x.shape) == tuple(y.shape):
        ctx.allow_inplace(op, x, y)
    ctx.kernel("prelu")
    if y.dtype == "float32":
        emit_broadcast(op, ctx, x, alpha, y, "td_prelu_f32({args});")
        return
    check_quantized(op, ctx, x, alpha, y)
    fields = ", ".join(f".{k} = {v}" for k, v in prelu_params(x, alpha, y).items())
    emit_broadcast(op, ctx, x, alpha, y, "td_prelu_s8({args}, &p);",
                   f"static const td_prelu_s8_params p = {{{fields}}};")
