"""Element-wise unary math: ELU, ABS, NEG, SQUARE, SQRT, RSQRT, EXP, LOG, CEIL, FLOOR, ROUND.

dtypes are TFLite Micro's: every op runs float32 (one C kernel per op, the same single-precision C library
calls TFLM's reference makes: expf, expm1f, logf, sqrtf, ...); ELU, ABS and RSQRT also run int8, ABS int16.
An int8 function of one input has only 256 possible inputs, so the int8 paths are a 256-entry table built
here by replaying TFLM's own arithmetic (ELU's table is what TFLM itself builds in Prepare, with the host C
library's expf; ABS and RSQRT replay AbsEvalQuantized / RsqrtEvalQuantized in integer arithmetic), run by
td_lut_s8 (relu.c).
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import lru_cache

import numpy as np

from tinydeploy.aot.lowering import LoweringContext, lowering
from tinydeploy.aot.ops.elementwise import check_quantized, scale_zp
from tinydeploy.aot.quant import (
    INT32_MAX,
    mul_by_pot,
    mul_by_quantized_multiplier,
    quantize_multiplier,
    srdhm,
    std_round,
    wrap32,
)
from tinydeploy.model.graph import Operator, Tensor

INT8_CODES = range(-128, 128)
FLOAT_ONLY = ("NEG", "SQUARE", "SQRT", "EXP", "LOG", "CEIL", "FLOOR", "ROUND")
DTYPES = {"ELU": ("float32", "int8"), "ABS": ("float32", "int8", "int16"), "RSQRT": ("float32", "int8"),
          **{name: ("float32",) for name in FLOAT_ONLY}}


@lru_cache(maxsize=1)
def libm() -> ctypes.CDLL:
    """The host C library's math functions (the ones TFLM's host interpreter calls)."""
    lib = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
    for name in ("expf", "expm1f"):
        getattr(lib, name).restype = ctypes.c_float
        getattr(lib, name).argtypes = [ctypes.c_float]
    return lib


def f32(x: float) -> np.float32:
    return np.float32(x)


def unary_operands(op: Operator, ctx: LoweringContext) -> tuple[Tensor, Tensor]:
    x, y = ctx.input(op, 0), ctx.output(op, 0)
    dtypes = DTYPES[op.opcode]
    if x.dtype != y.dtype or x.dtype not in dtypes:
        fix = ("TFLite Micro has no such kernel either: convert with --mode float32, or replace the layer that "
               "produces it (e.g. Keras selu and exponential give int8 EXP; elu converts to ELU)"
               if dtypes == ("float32",) else f"use {' or '.join(dtypes)}")
        raise ctx.unsupported(op, f"{op.opcode} from {x.dtype} to {y.dtype}: TFLite Micro and aot run it on "
                                  f"{', '.join(dtypes)} only; {fix}")
    if x.size != y.size:
        raise ctx.unsupported(op, f"input {list(x.shape)} and output {list(y.shape)} differ in size")
    ctx.allow_inplace(op, x, y)  # every kernel here reads element i before writing it
    return x, y


def emit_lut_s8(ctx: LoweringContext, name: str, table: list[int], x: Tensor, y: Tensor) -> None:
    """y = table[x + 128] over the tensor (td_lut_s8 in relu.c)."""
    ctx.kernel("relu")
    ident = ctx.const(f"{name}_lut", np.array(table, dtype=np.int8), "int8_t")
    ctx.emit(f"td_lut_s8({ctx.ptr(x)}, {ctx.ptr(y)}, {x.size}, {ident});")


# --- int8 tables: TFLM's arithmetic replayed -------------------------------------------------------------


def elu_table(x: Tensor, y: Tensor) -> list[int]:
    """TFLM's elu.cc PopulateLookupTable: dequantize in float32, exp(x) - 1 below zero, round(v / out_scale)
    with the reciprocal taken in float32, plus the zero point (a float add), clamped."""
    sx, zx = scale_zp(x)
    sy, zy = scale_zp(y)
    inverse = f32(1.0) / f32(sy)
    table = []
    for code in INT8_CODES:
        v = f32(sx) * f32(code - zx)
        t = f32(libm().expf(float(v))) - f32(1.0) if v < 0 else v
        rescaled = f32(std_round(float(f32(t * inverse))))
        q = int(f32(rescaled + f32(zy)))
        table.append(max(-128, min(127, q)))
    return table


def abs_params(x: Tensor, y: Tensor) -> tuple[bool, int, int]:
    """(needs_rescale, multiplier, shift) as TFLM's PrepareAbsRsqrt computes them for ABS."""
    sx, _ = scale_zp(x)
    sy, _ = scale_zp(y)
    needs = float(f32(sx)) != float(f32(sy))
    m, s = quantize_multiplier(float(f32(sx)) / float(f32(sy))) if needs else (0, 0)
    return needs, m, s


def abs_table(x: Tensor, y: Tensor) -> list[int]:
    _, zx = scale_zp(x)
    _, zy = scale_zp(y)
    needs, m, s = abs_params(x, y)
    table = []
    for code in INT8_CODES:
        v = abs(code - zx)
        r = (mul_by_quantized_multiplier(v, m, s) if needs else v) + zy
        table.append(max(-128, min(127, r)))
    return table


def inv_sqrt_multiplier_exp(value: int, reverse_shift: int) -> tuple[int, int]:
    """TFLite's GetInvSqrtQuantizedMultiplierExp: 1 / sqrt(value) as a Q31 multiplier and shift, by five
    Newton-Raphson steps in gemmlowp fixed point (3 integer bits)."""
    if value <= 1:
        return INT32_MAX, 0
    shift = 11
    while value >= (1 << 29):
        value //= 4
        shift += 1
    max_left_shift_bits = (32 - value.bit_length()) - 1
    pairs = max_left_shift_bits // 2 - 1
    shift -= pairs
    value <<= 2 * pairs
    fp_input = value >> 1
    half_input = mul_by_pot(fp_input, -1)
    half_three = (1 << 28) + (1 << 27)
    x = 1 << 28  # F3 one
    for _ in range(5):
        x3 = mul_by_pot(srdhm(srdhm(x, x), x), 6)  # F9 -> F3
        x = mul_by_pot(wrap32(srdhm(half_three, x) - srdhm(half_input, x3)), 3)  # F6 -> F3
    x = srdhm(x, 1518500250)  # times sqrt(2) / 2 (F0)
    if shift < 0:
        x = wrap32(x << -shift)
        shift = 0
    return x, shift * reverse_shift


def rsqrt_params(x: Tensor, y: Tensor) -> tuple[int, int]:
    sx, _ = scale_zp(x)
    sy, _ = scale_zp(y)
    return quantize_multiplier(1.0 / (float(np.sqrt(float(f32(sx)))) * float(f32(sy))))


def rsqrt_table(x: Tensor, y: Tensor) -> list[int]:
    """TFLM's RsqrtEvalQuantized.  Inputs below the zero point (negative reals) make TFLM's Eval fail; the
    table gives them the largest output like the value 0."""
    _, zx = scale_zp(x)
    _, zy = scale_zp(y)
    m, s = rsqrt_params(x, y)
    k_shift = 20
    table = []
    for code in INT8_CODES:
        v = code - zx
        if v <= 0:
            table.append(127)
            continue
        inv, inv_shift = inv_sqrt_multiplier_exp(v, -1)
        data = mul_by_quantized_multiplier(1, inv, inv_shift + k_shift)
        r = mul_by_quantized_multiplier(data, m, s - k_shift) + zy
        table.append(max(-128, min(127, r)))
    return table


TABLES = {"ELU": elu_table, "ABS": abs_table, "RSQRT": rsqrt_table}


@lowering("ELU", "ABS", "NEG", "SQUARE", "SQRT", "RSQRT", "EXP", "LOG", "CEIL", "FLOOR", "ROUND")
def lower_unary(op: Operator, ctx: LoweringContext) -> None:
    x, y = unary_operands(op, ctx)
    name = op.opcode.lower()
    if x.dtype == "float32":
        ctx.kernel(name)
        ctx.emit(f"td_{name}_f32({ctx.ptr(x)}, {ctx.ptr(y)}, {x.size});")
        return
    if x.dtype == "int16":  # ABS: TFLM runs int16 quantized (zero points 0) or plain
        ctx.kernel(name)
        needs, m, s = (False, 0, 0)
        if x.quant is not None and x.quant.scale.size:
            check_quantized(op, ctx, x, y)
            if scale_zp(x)[1] != 0 or scale_zp(y)[1] != 0:
                raise ctx.unsupported(op, "int16 ABS needs zero points 0 (TFLM requires it); quantize int16x8")
            needs, m, s = abs_params(x, y)
        ctx.emit(f"td_abs_s16({ctx.ptr(x)}, {ctx.ptr(y)}, {x.size}, {int(needs)}, {m}, {s});")
        return
    check_quantized(op, ctx, x, y)
    emit_lut_s8(ctx, name, TABLES[op.opcode](x, y), x, y)
