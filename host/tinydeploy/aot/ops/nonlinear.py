"""Lowerings of SOFTMAX, LOGISTIC and TANH (int8 and float32; int16 in int16x8.py), bit-exact with TFLite Micro.

TFLM's int8 kernels evaluate these functions in gemmlowp fixed point with parameters computed in Prepare();
this module computes the same parameters at generation time (see `softmax_params`, `saturating_params`).
For LOGISTIC and TANH on the optimized path the whole function of the 256 possible int8 inputs is folded
into a lookup table: `FixedPoint` below replays the reference kernel's integer arithmetic in Python (the
same algorithm as firmware/aot/kernels/td_gemmlowp.h), so the table is bit-exact by construction.  The
reference path (`optimized=False`) runs the C fixed-point kernel itself and is the exactness oracle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from tinydeploy.aot.lowering import LoweringContext, lowering
from tinydeploy.aot.ops.int16x8 import lower_saturating_s16, lower_softmax_s16
from tinydeploy.aot.quant import (
    INT32_MAX,
    mul_by_pot,
    mul_by_quantized_multiplier,
    quantize_multiplier,
    rounding_divide_by_pot,
    srdhm,
    wrap32,
)
from tinydeploy.errors import UserError
from tinydeploy.model.graph import Operator, Tensor


SOFTMAX_SCALED_DIFF_INTEGER_BITS = 5  # TFLM kScaledDiffIntegerBits
TRANSCENDENTAL_INPUT_INTEGER_BITS = 4  # TFLM kInputIntegerBits for LOGISTIC and TANH


# --- TFLM Prepare() arithmetic ---------------------------------------------------------------------------


def calculate_input_radius(input_integer_bits: int, input_left_shift: int, total_signed_bits: int = 31) -> int:
    """TFLite's CalculateInputRadius: the largest input magnitude that does not overflow after rescaling."""
    max_input_rescaled = (1.0 * ((1 << input_integer_bits) - 1) * (1 << (total_signed_bits - input_integer_bits))
                          / (1 << input_left_shift))
    return int(math.floor(max_input_rescaled))


@dataclass(frozen=True)
class SoftmaxParams:
    beta_multiplier: int
    beta_left_shift: int
    diff_min: int


def softmax_params(beta: float, input_scale: float) -> SoftmaxParams:
    """TFLM's int8 softmax Prepare: PreprocessSoftmaxScaling (double-rounding build) and diff_min."""
    bits = SOFTMAX_SCALED_DIFF_INTEGER_BITS
    real = min(float(np.float32(beta)) * float(np.float32(input_scale)) * (1 << (31 - bits)), (1 << 31) - 1.0)
    multiplier, left_shift = quantize_multiplier(real)
    if left_shift < 0:  # QuantizeMultiplierGreaterThanOne's check; only for absurdly small beta * scale
        raise ValueError(f"softmax beta * input scale = {real / (1 << (31 - bits)):g} is too small")
    diff_min = -calculate_input_radius(bits, left_shift)
    return SoftmaxParams(multiplier, left_shift, diff_min)


@dataclass(frozen=True)
class SaturatingParams:
    """LOGISTIC / TANH int8 parameters: input scaled into Q4.27, saturating beyond range_radius."""

    input_zero_point: int
    multiplier: int
    left_shift: int
    range_radius: int


def saturating_params(input_scale: float, input_zero_point: int) -> SaturatingParams:
    """TFLM's int8 LOGISTIC/TANH Prepare: frexp of scale * 2^27 and CalculateInputRadius(4, shift)."""
    bits = TRANSCENDENTAL_INPUT_INTEGER_BITS
    real = float(np.float32(input_scale)) * float(1 << (31 - bits))
    mantissa, left_shift = math.frexp(real)
    multiplier = _round_half_away(mantissa * (1 << 31))
    if multiplier > INT32_MAX:  # cannot happen for a float32 scale (24-bit mantissa), kept as a guard
        raise ValueError(f"input scale {input_scale!r} gives an unrepresentable multiplier")
    return SaturatingParams(int(input_zero_point), multiplier, left_shift,
                            calculate_input_radius(bits, left_shift))


def _round_half_away(x: float) -> int:
    return int(math.floor(abs(x) + 0.5)) * (1 if x >= 0 else -1)


# --- gemmlowp fixed point, replayed in Python (mirrors td_gemmlowp.h) ------------------------------------


_EXP_OF_MINUS_POT = (1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242)


def _exp_on_interval_neg_quarter_to_0(a: int) -> int:
    exp_minus_one_eighth, one_third = 1895147668, 715827883
    x = wrap32(a + (1 << 28))
    x2 = srdhm(x, x)
    x3 = srdhm(x2, x)
    x4 = srdhm(x2, x2)
    poly = mul_by_pot(wrap32(srdhm(wrap32(mul_by_pot(x4, -2) + x3), one_third) + x2), -1)
    return wrap32(exp_minus_one_eighth + srdhm(exp_minus_one_eighth, wrap32(x + poly)))


def exp_on_negative_values(a: int, int_bits: int) -> int:
    frac_bits = 31 - int_bits
    one_quarter = 1 << (frac_bits - 2)
    a_mod = wrap32((a & (one_quarter - 1)) - one_quarter)
    result = _exp_on_interval_neg_quarter_to_0(mul_by_pot(a_mod, int_bits))
    remainder = wrap32(a_mod - a)
    for k in range(-2, min(4, int_bits - 1) + 1):
        if remainder & (1 << (frac_bits + k)):
            result = srdhm(result, _EXP_OF_MINUS_POT[k + 2])
    if int_bits > 5 and a < -(1 << (36 - int_bits)):
        result = 0
    return INT32_MAX if a == 0 else result


def _reciprocal_of_half_denominator_q2(half_denominator: int) -> int:
    x = wrap32(1515870810 + srdhm(half_denominator, -1010580540))
    for _ in range(3):
        one_minus = wrap32((1 << 29) - srdhm(half_denominator, x))
        x = wrap32(x + mul_by_pot(srdhm(x, one_minus), 2))
    return x


def _rounding_half_sum(a: int, b: int) -> int:
    s = a + b
    num = s + (1 if s >= 0 else -1)
    q = abs(num) // 2
    return q if num >= 0 else -q


def one_over_one_plus_x(a: int) -> int:
    return mul_by_pot(_reciprocal_of_half_denominator_q2(_rounding_half_sum(a, INT32_MAX)), 1)


def one_minus_x_over_one_plus_x(a: int) -> int:
    x = _reciprocal_of_half_denominator_q2(_rounding_half_sum(a, INT32_MAX))
    return mul_by_pot(wrap32(x - (1 << 29)), 2)


def fixed_logistic(a: int, int_bits: int) -> int:
    if a == 0:
        return 1 << 30
    positive = one_over_one_plus_x(exp_on_negative_values(-abs(a), int_bits))
    return positive if a > 0 else wrap32(INT32_MAX - positive)


def fixed_tanh(a: int, int_bits: int) -> int:
    if a == 0:
        return 0
    t = one_minus_x_over_one_plus_x(exp_on_negative_values(-abs(a), int_bits + 1))
    return -t if a < 0 else t


def logistic_s8_reference(code: int, p: SaturatingParams) -> int:
    """TFLM's reference_integer_ops::Logistic for one int8 input code."""
    x = code - p.input_zero_point
    if x <= -p.range_radius:
        return -128
    if x >= p.range_radius:
        return 127
    y = fixed_logistic(mul_by_quantized_multiplier(x, p.multiplier, p.left_shift), TRANSCENDENTAL_INPUT_INTEGER_BITS)
    return min(max(rounding_divide_by_pot(y, 23) - 128, -128), 127)


def tanh_s8_reference(code: int, p: SaturatingParams) -> int:
    """TFLM's reference_integer_ops::Tanh for one int8 input code."""
    x = code - p.input_zero_point
    if x <= -p.range_radius:
        return -128
    if x >= p.range_radius:
        return 127
    y = fixed_tanh(mul_by_quantized_multiplier(x, p.multiplier, p.left_shift), TRANSCENDENTAL_INPUT_INTEGER_BITS)
    return min(max(rounding_divide_by_pot(y, 24), -128), 127)


ReferenceFn = Callable[[int, SaturatingParams], int]


def lut_s8(fn: ReferenceFn, p: SaturatingParams) -> np.ndarray:
    """The 256-entry table of fn over every int8 input code, indexed by code + 128."""
    return np.array([fn(code, p) for code in range(-128, 128)], dtype=np.int8)


# --- lowerings -------------------------------------------------------------------------------------------


def _scale_zp(t: Tensor) -> tuple[float, int]:
    if t.quant is None or t.quant.scale.size != 1:
        raise ValueError(f"tensor '{t.name}' needs per-tensor quantization")
    return float(t.quant.scale[0]), int(t.quant.zero_point[0])


def _require_quantized(op: Operator, ctx: LoweringContext, *tensors: Tensor) -> None:
    for t in tensors:
        if t.quant is None or t.quant.scale.size != 1:
            raise ctx.unsupported(op, f"tensor '{t.name}' is {t.dtype} without per-tensor quantization")


@lowering("SOFTMAX")
def lower_softmax(op: Operator, ctx: LoweringContext) -> None:
    x, y = ctx.input(op, 0), ctx.output(op, 0)
    beta = float(op.options.get("beta", 0.0))  # TFLM's zero-initialised params when options are absent
    depth = x.shape[-1] if x.shape else 1
    outer = x.size // max(depth, 1)
    if x.dtype == "float32" and y.dtype == "float32":
        ctx.kernel("softmax_f32")
        ctx.allow_inplace(op, x, y)
        ctx.emit(f"td_softmax_f32({ctx.ptr(x)}, {ctx.ptr(y)}, {outer}, {depth}, {_c_float(beta)});")
        return
    if x.dtype == "int16":
        lower_softmax_s16(op, ctx, outer, depth)
        return
    if x.dtype != "int8" or y.dtype not in ("int8", "int16"):
        raise ctx.unsupported(op, f"softmax from {x.dtype} to {y.dtype} (aot supports int8->int8, int8->int16, "
                                  "int16->int16, "
                                  "float32->float32)")
    _require_quantized(op, ctx, x, y)
    in_scale, _ = _scale_zp(x)
    out_scale, out_zp = _scale_zp(y)
    expected = (1 / 256, -128) if y.dtype == "int8" else (1 / 65536, -32768)
    if out_zp != expected[1] or abs(out_scale - expected[0]) > expected[0] * 1e-3:
        raise ctx.unsupported(op, f"{y.dtype} softmax output must have scale {expected[0]:g} and zero point "
                                  f"{expected[1]} (has {out_scale:g}, {out_zp}); TFLM rejects it too")
    try:
        p = softmax_params(beta, in_scale)
    except ValueError as err:  # a model no runtime takes: "use --runtime tflm" would send the user to a crash
        where = f"{ctx.model.path or 'model'}: {op.describe(ctx.model)}"
        raise UserError(f"{where}: {err}; TFLM's int8 softmax aborts in Prepare on it too",
                        hint="re-convert the model: the scale of the softmax input comes from calibration, so "
                             "check the representative data (--rep-data) covers real inputs") from None
    ctx.kernel("softmax_s8")
    args = f"{outer}, {depth}, {p.beta_multiplier}, {p.beta_left_shift}, {p.diff_min}"
    if y.dtype == "int8":
        ctx.allow_inplace(op, x, y)
        ctx.emit(f"td_softmax_s8({ctx.ptr(x)}, {ctx.ptr(y)}, {args});")
    else:
        ctx.emit(f"td_softmax_s8_s16({ctx.ptr(x)}, {ctx.ptr(y)}, {args});")


def _lower_saturating(op: Operator, ctx: LoweringContext, name: str, reference_fn: ReferenceFn) -> None:
    """LOGISTIC and TANH: same parameters, same two paths (LUT when optimized, fixed point otherwise)."""
    x, y = ctx.input(op, 0), ctx.output(op, 0)
    if x.dtype == "float32" and y.dtype == "float32":
        ctx.kernel(f"{name}_f32")
        ctx.allow_inplace(op, x, y)
        ctx.emit(f"td_{name}_f32({ctx.ptr(x)}, {ctx.ptr(y)}, {x.size});")
        return
    if x.dtype == "int16":
        lower_saturating_s16(op, ctx, name)
        return
    if x.dtype != "int8" or y.dtype != "int8":
        raise ctx.unsupported(op, f"{op.opcode} from {x.dtype} to {y.dtype} (aot supports int8, int16 and "
                                  "float32)")
    _require_quantized(op, ctx, x, y)
    in_scale, in_zp = _scale_zp(x)
    p = saturating_params(in_scale, in_zp)
    ctx.kernel(f"{name}_s8")
    ctx.allow_inplace(op, x, y)
    if ctx.target.optimized:
        lut = ctx.const(f"{name}_lut", lut_s8(reference_fn, p), "int8_t")
        ctx.emit(f"td_{name}_s8_lut({ctx.ptr(x)}, {ctx.ptr(y)}, {x.size}, {lut});")
    else:
        ctx.emit(f"td_{name}_s8({ctx.ptr(x)}, {ctx.ptr(y)}, {x.size}, {p.input_zero_point}, {p.range_radius}, "
                 f"{p.multiplier}, {p.left_shift});")


@lowering("LOGISTIC")
def lower_logistic(op: Operator, ctx: LoweringContext) -> None:
    _lower_saturating(op, ctx, "logistic", logistic_s8_reference)


@lowering("TANH")
def lower_tanh(op: Operator, ctx: LoweringContext) -> None:
    _lower_saturating(op, ctx, "tanh", tanh_s8_reference)


def _c_float(value: float) -> str:
    """A C float literal that round-trips the float32 value exactly."""
    v = float(np.float32(value))
    if math.isinf(v) or math.isnan(v):
        raise ValueError(f"non-finite constant {v}")
    return f"{v!r}f" if "e" in repr(v) or "." in repr(v) else f"{v!r}.0f"
