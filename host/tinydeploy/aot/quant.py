"""Host-side quantization arithmetic, bit-for-bit as TFLite Micro computes it in its Prepare() steps."""

from __future__ import annotations

import math

import numpy as np


def quantize_multiplier(real_multiplier: float) -> tuple[int, int]:
    """TFLite's QuantizeMultiplier: real = q * 2^(shift - 31) with q a Q31 in [2^30, 2^31).

    Returns (q, shift); shift > 0 means a left shift.  Zero maps to (0, 0).
    """
    if real_multiplier == 0.0:
        return 0, 0
    mantissa, shift = math.frexp(real_multiplier)
    q = std_round(mantissa * (1 << 31))
    if q == (1 << 31):
        q //= 2
        shift += 1
    if shift < -31:
        shift, q = 0, 0
    return q, shift


def std_round(x: float) -> int:
    """std::round: half away from zero."""
    return int(math.floor(abs(x) + 0.5)) * (1 if x >= 0 else -1)


def per_channel_multipliers(input_scale: float, filter_scales: np.ndarray, output_scale: float
                            ) -> tuple[np.ndarray, np.ndarray]:
    """TFLM's PopulateConvolutionQuantizationParams: effective scale computed in double from float32 scales."""
    mults, shifts = [], []
    for fs in np.asarray(filter_scales, dtype=np.float32).ravel():
        effective = float(np.float32(input_scale)) * float(fs) / float(np.float32(output_scale))
        q, s = quantize_multiplier(effective)
        mults.append(q)
        shifts.append(s)
    return np.array(mults, dtype=np.int32), np.array(shifts, dtype=np.int32)


def activation_range_s8(activation: str, scale: float, zero_point: int,
                        qmin: int = -128, qmax: int = 127) -> tuple[int, int]:
    """TFLite's CalculateActivationRangeQuantized for a fused activation (NONE, RELU, RELU6, RELU_N1_TO_1)."""

    def quantize(x: float) -> int:
        return zero_point + std_round(float(np.float32(x) / np.float32(scale)))

    if activation == "NONE":
        return qmin, qmax
    if activation == "RELU":
        return max(qmin, quantize(0.0)), qmax
    if activation == "RELU6":
        return max(qmin, quantize(0.0)), min(qmax, quantize(6.0))
    if activation == "RELU_N1_TO_1":
        return max(qmin, quantize(-1.0)), min(qmax, quantize(1.0))
    raise ValueError(f"unsupported fused activation {activation}")


# --- gemmlowp fixed-point arithmetic in Python, bit-exact with firmware/aot/kernels/td_fixedpoint.h -----
# Used to precompute lookup tables and to check kernels; Python ints are unbounded, so every step that
# wraps or truncates in C does so explicitly here.

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


def wrap32(x: int) -> int:
    return ((x + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def srdhm(a: int, b: int) -> int:
    """SaturatingRoundingDoublingHighMul: (a * b * 2) >> 32, rounded, truncating division as in C."""
    if a == b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    num = ab + nudge
    q = abs(num) >> 31
    return q if num >= 0 else -q


def rounding_divide_by_pot(x: int, exponent: int) -> int:
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def mul_by_pot(x: int, exponent: int) -> int:
    """SaturatingRoundingMultiplyByPOT."""
    if exponent < 0:
        return rounding_divide_by_pot(x, -exponent)
    if exponent == 0:
        return x
    threshold = (1 << (31 - exponent)) - 1
    if x > threshold:
        return INT32_MAX
    if x < -threshold:
        return INT32_MIN
    return x << exponent


def mul_by_quantized_multiplier(x: int, multiplier: int, shift: int) -> int:
    left, right = max(shift, 0), max(-shift, 0)
    return rounding_divide_by_pot(srdhm(wrap32(x << left), multiplier), right)
