"""HARD_SWISH (MobileNetV3's activation), float32 and int8, bit-exact with TFLite Micro.

float32 runs TFLM's expression in C (hard_swish.c).  int8 is a 256-entry table built here by replaying
TFLM's quantized HardSwish: its Prepare forms the "hires" input scale (input_scale / 128), the output and
"reluish" multipliers in float32, quantizes them to Q31 and rounds those down to Q15; its Eval works in
16-bit fixed point with gemmlowp's rounding doubling high multiply, a truncating one, saturating shifts and
rounding divides.  Every step is reproduced below on Python ints with the int16 wrap-around made explicit.
"""

from __future__ import annotations

import numpy as np

from tinydeploy.aot.lowering import LoweringContext, lowering
from tinydeploy.aot.ops.elementwise import check_quantized, scale_zp
from tinydeploy.aot.ops.unary import emit_lut_s8
from tinydeploy.aot.quant import quantize_multiplier
from tinydeploy.model.graph import Operator, Tensor

INT16_MIN, INT16_MAX = -(1 << 15), (1 << 15) - 1


def wrap16(x: int) -> int:
    return ((x + (1 << 15)) & 0xFFFF) - (1 << 15)


def sat16(x: int) -> int:
    return max(INT16_MIN, min(INT16_MAX, x))


def srdhm16(a: int, b: int) -> int:
    """gemmlowp SaturatingRoundingDoublingHighMul on int16 (division truncates toward zero)."""
    if a == b == INT16_MIN:
        return INT16_MAX
    ab = a * b
    num = ab + ((1 << 14) if ab >= 0 else 1 - (1 << 14))
    q = abs(num) >> 15
    return wrap16(q if num >= 0 else -q)


def sdhm16(a: int, b: int) -> int:
    """TFLM's SaturatingDoublingHighMul: like srdhm16 but truncating without the rounding nudge."""
    if a == b == INT16_MIN:
        return INT16_MAX
    ab = a * b
    q = abs(ab) >> 15
    return wrap16(q if ab >= 0 else -q)


def rdbpot(x: int, exponent: int) -> int:
    """gemmlowp RoundingDivideByPOT on int16 (half away from zero).  The mask is int16 too: from exponent 16
    on, (1 << exponent) - 1 truncates to -1, and TFLM's result is then +1 for x >= 0 and -1 below (tiny
    input scales, e.g. random-weight MobileNetV3, give reluish exponents around -20)."""
    mask = wrap16((1 << exponent) - 1)
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def downscale_to_q15(multiplier: int) -> int:
    """TFLite's DownScaleInt32ToInt16Multiplier: round a Q31 multiplier to Q15, saturating at the top."""
    if multiplier >= (1 << 31) - 1 - (1 << 15):
        return INT16_MAX
    return (multiplier + (1 << 15)) >> 16


def hard_swish_params(x: Tensor, y: Tensor) -> dict[str, int]:
    """TFLM's HardSwishPrepare for int8 (float32 arithmetic, then QuantizeMultiplier in double)."""
    sx, zx = scale_zp(x)
    sy, zy = scale_zp(y)
    hires = np.float32(np.float32(1.0 / 128.0) * np.float32(sx))
    reluish_scale = np.float32(np.float32(3.0) / np.float32(32768.0))
    out_m, out_e = quantize_multiplier(float(np.float32(hires / np.float32(sy))))
    rel_m, rel_e = quantize_multiplier(float(np.float32(hires / reluish_scale)))
    return {"in_zp": zx, "out_zp": zy, "out_mult": downscale_to_q15(out_m), "out_exp": out_e,
            "reluish_mult": downscale_to_q15(rel_m), "reluish_exp": rel_e}


def hard_swish_s8(code: int, p: dict[str, int]) -> int:
    """reference_ops::HardSwish<int8_t> for one input code."""
    value = wrap16(code - p["in_zp"])
    hires = wrap16(value * (1 << 7))
    preshift_out = srdhm16(hires, p["out_mult"])
    reluish = hires
    if p["reluish_exp"] > 0:
        reluish = sat16(reluish * (1 << (p["reluish_exp"] - 1)))
    reluish = srdhm16(reluish, p["reluish_mult"])
    if p["reluish_exp"] > 0:
        reluish = sat16(reluish * 2)
    if p["reluish_exp"] < 0:
        reluish = wrap16(rdbpot(reluish, -p["reluish_exp"]))
    reluish = wrap16((reluish + (1 << 15)) >> 1)
    out = sdhm16(reluish, preshift_out)
    out = wrap16(wrap16(rdbpot(out, -p["out_exp"])) + p["out_zp"])
    return max(-128, min(127, out))


@lowering("HARD_SWISH")
def lower_hard_swish(op: Operator, ctx: LoweringContext) -> None:
    x, y = ctx.input(op, 0), ctx.output(op, 0)
    if x.dtype != y.dtype or x.dtype not in ("float32", "int8") or x.size != y.size:
        raise ctx.unsupported(op, f"HARD_SWISH from {x.dtype}{list(x.shape)} to {y.dtype}{list(y.shape)}: TFLite "
                                  "Micro and aot run it on int8 or float32 of one shape; quantize to int8")
    ctx.allow_inplace(op, x, y)
    if x.dtype == "float32":
        ctx.kernel("hard_swish")
        ctx.emit(f"td_hard_swish_f32({ctx.ptr(x)}, {ctx.ptr(y)}, {x.size});")
        return
    check_quantized(op, ctx, x, y)
    p = hard_swish_params(x, y)
    if p["out_exp"] > 0:
        raise ctx.unsupported(op, "the output scale is below input_scale / 128, which TFLM's HARD_SWISH rejects "
                                  "too; recalibrate the model (a wider output range)")
    emit_lut_s8(ctx, "hard_swish", [hard_swish_s8(c, p) for c in range(-128, 128)], x, y)
