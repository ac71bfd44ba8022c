"""MEAN over constant axes (int8 and float32, any rank), as TFLite Micro's reference kernels compute it.

int8 follows TFLM's QuantizedMeanOrSum for every axis set and shape (its 4-D H,W special case only
applies to float and computes the same float sums): the int32 sum of each output minus in_zp * count is
requantized with in_scale / out_scale whose multiplier absorbs 1 / count (shift = floor(log2 count),
capped at 32 and at 31 + the multiplier's shift).
"""

from __future__ import annotations

from tinydeploy.aot.lowering import LoweringContext, lowering
from tinydeploy.aot.ops.elementwise import check_quantized, scale_zp
from tinydeploy.aot.ops.transpose import c_array, const_ints, contiguous_strides, merge_axes, pad6
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
    if x.dtype != y.dtype or x.dtype not in ("int8", "float32"):
        raise ctx.unsupported(op, f"types {x.dtype} -> {y.dtype} (int8 or float32 only)")
    rank = len(x.shape)
    axes = sorted({int(a) + rank if int(a) < 0 else int(a) for a in const_ints(op, ctx, 1, "axis").reshape(-1)})
    if any(not 0 <= a < rank for a in axes):
        raise ctx.unsupported(op, f"axes {axes} are out of range for a {rank}-D input")
    kept = [k for k in range(rank) if k not in axes]
    kept_strides = contiguous_strides([x.shape[k] for k in kept])
    out_strides = [0] * rank
    for k, s in zip(kept, kept_strides):
        out_strides[k] = s
    count = 1
    for a in axes:
        count *= int(x.shape[a])
    out_count = y.size
    if out_count != x.size // max(count, 1) or count == 0:
        raise ctx.unsupported(op, f"output {list(y.shape)} does not match a mean of {list(x.shape)} over {axes}")
    dims, (in_s, o_s) = merge_axes(list(x.shape), contiguous_strides(x.shape), out_strides)
    padded = pad6(dims, in_s, o_s)
    if padded is None:
        raise ctx.unsupported(op, "the reduction needs more than 6 dimensions")
    d6, (_, os6) = padded
    fields = {"dims": c_array(d6), "out_strides": c_array(os6), "out_count": out_count, "count": count}
    if x.dtype == "int8":
        check_quantized(op, ctx, x, y)
        _, zx = scale_zp(x)
        _, zy = scale_zp(y)
        m, sh = mean_s8_multiplier(x, y, count)
        fields.update({"in_zp": zx, "out_zp": zy, "multiplier": m, "shift": sh})
    else:
        fields.update({"in_zp": 0, "out_zp": 0, "multiplier": 0, "shift": 0})
    ctx.kernel("mean")
    acc = ctx.scratch(op, 4 * out_count)
    body = ", ".join(f".{k} = {v}" for k, v in fields.items())
    if x.dtype == "int8":
        call = f"td_mean_s8({ctx.ptr(x)}, {ctx.ptr(y)}, (int32_t *){acc}, &p);"
    else:
        call = f"td_mean_f32({ctx.ptr(x)}, {ctx.ptr(y)}, (float *){acc}, &p);"
    ctx.emit(f"{{\n  static const td_mean_params p = {{{body}}};\n  {call}\n}}")
