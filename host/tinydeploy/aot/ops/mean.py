"""MEAN over constant axes (int8, int16 and float32, any rank), as TFLite Micro's reference kernels compute it.

int8 and int16 follow TFLM's QuantizedMeanOrSum for every axis set and shape (its 4-D H,W special case only
applies to float and computes the same float sums), also when input and output share their quantization
(the tflite-micro interpreter rounds there too, no truncating integer mean): the int32 sum of each output
minus in_zp * count is requantized with in_scale / out_scale whose multiplier absorbs 1 / count (shift =
floor(log2 count), capped at 32 and at 31 + the multiplier's shift).  int16 runs sum.h's td_sum_s16 (the
same arithmetic, int16 clamp) with that multiplier.
"""

from __future__ import annotations

from tinydeploy.aot.lowering import LoweringContext, lowering
from tinydeploy.aot.ops.elementwise import check_quantized, scale_zp
from tinydeploy.aot.ops.pool_mve import lower_mean_hw_mve
from tinydeploy.aot.ops.reduce import reduction
from tinydeploy.aot.quant import quantize_multiplier
from tinydeploy.model.graph import Operator, Tensor


def mean_s8_multiplier(x: Tensor, y: Tensor, count: int) -> tuple[int, int]:
    """The requantization of QuantizedMeanOrSum (compute_sum = false) with 1/count folded in."""
    sx, _ = scale_zp(x)
    sy, _ = scale_zp(y)
    multiplier, shift = quantize_multiplier(sx / sy)
    s = count.bit_length() - 1  # 63 - CountLeadingZeros(count)
    s = min(s, 32)
    s = min(s, 31 + shift)
    multiplier = (multiplier << s) // count if s >= 0 else (multiplier >> -s) // count
    return int(multiplier), shift - s


@lowering("MEAN")
def lower_mean(op: Operator, ctx: LoweringContext) -> None:
    x, y = ctx.input(op, 0), ctx.output(op, 0)
    if x.dtype != y.dtype or x.dtype not in ("int8", "int16", "float32"):
        raise ctx.unsupported(op, f"types {x.dtype} -> {y.dtype} (int8, int16 or float32 only)")
    r = reduction(op, ctx, x, y)
    fields = r.fields
    if x.dtype == "float32":
        call = f"td_mean_f32({ctx.ptr(x)}, {ctx.ptr(y)}, (float *){{acc}}, &p);"
    else:
        check_quantized(op, ctx, x, y)
        m, sh = mean_s8_multiplier(x, y, r.count)
        fields.update({"in_zp": scale_zp(x)[1], "out_zp": scale_zp(y)[1], "multiplier": m, "shift": sh})
        if lower_mean_hw_mve(op, ctx, x, y, {k: fields[k] for k in ("in_zp", "out_zp", "multiplier", "shift")}):
            return  # Helium cores: MEAN over H, W
        fn = "td_mean_s8" if x.dtype == "int8" else "td_sum_s16"  # sum.h: the same arithmetic on int16
        call = f"{fn}({ctx.ptr(x)}, {ctx.ptr(y)}, (int32_t *){{acc}}, &p);"
        if x.dtype == "int16":
            ctx.kernel("sum")
    ctx.kernel("mean")
    acc = ctx.scratch(op, 4 * r.out_count)
    body = ", ".join(f".{k} = {v}" for k, v in fields.items())
    ctx.emit(f"{{\n  static const td_mean_params p = {{{body}}};\n  {call.format(acc=acc)}\n}}")
