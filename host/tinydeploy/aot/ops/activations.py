"""RELU, RELU6 and LEAKY_RELU (int8, int16 and float32), with TFLite Micro's quantization arithmetic.

int8 RELU is TFLM's ReluQuantized: it requantizes by in_scale / out_scale and clamps at the output's zero.
int8 RELU6 is TFLM's Relu6: a plain clamp to [in_zp, quantize(6)] in the input's quantization, with no
requantization even when the output's quantization differs.  int8 LEAKY_RELU uses two multipliers whose
real values TFLM forms in float32 (in_scale * alpha / out_scale and in_scale / out_scale).

On the optimized path, int8 RELU and LEAKY_RELU over more than LUT_MIN_ELEMENTS elements become a 256-entry
table computed here by replaying the kernel's fixed-point arithmetic in Python; the reference path
(`optimized=False`) runs the C arithmetic itself.
"""

from __future__ import annotations

import numpy as np

from tinydeploy.aot.codegen import c_float
from tinydeploy.aot.lowering import LoweringContext, lowering
from tinydeploy.aot.ops.elementwise import check_quantized, scale_zp
from tinydeploy.aot.quant import mul_by_quantized_multiplier, quantize_multiplier, std_round
from tinydeploy.model.graph import Operator, Tensor


LUT_MIN_ELEMENTS = 64  # below this the table (256 bytes of flash) costs more than it saves
INT8_CODES = range(-128, 128)


def _use_lut(ctx: LoweringContext, x: Tensor) -> bool:
    return ctx.target.optimized and x.size > LUT_MIN_ELEMENTS


def _emit_lut(ctx: LoweringContext, name: str, table: list[int], src: str, dst: str, n: int) -> None:
    ident = ctx.const(f"{name}_lut", np.array(table, dtype=np.int8), "int8_t")
    ctx.emit(f"td_lut_s8({src}, {dst}, {n}, {ident});")


def _unary(op: Operator, ctx: LoweringContext) -> tuple[Tensor, Tensor]:
    x, y = ctx.input(op, 0), ctx.output(op, 0)
    if x.dtype != y.dtype or x.dtype not in ("int8", "float32") or x.size != y.size:
        raise ctx.unsupported(op, f"{x.dtype}{list(x.shape)} -> {y.dtype}{list(y.shape)} (int8 or float32 only)")
    ctx.allow_inplace(op, x, y)  # every kernel here reads element i before writing element i
    if x.dtype == "int8":
        check_quantized(op, ctx, x, y)
    return x, y


def float_to_quantized_s8(value: float, scale: float, zero_point: int) -> int:
    """TFLM's FloatToQuantizedType<int8_t>: round(value / scale) in float, plus the zero point, clamped."""
    q = std_round(float(np.float32(value) / np.float32(scale))) + zero_point
    return max(-128, min(127, q))


def relu_s8_args(x: Tensor, y: Tensor) -> tuple[int, int, int, int, int, int]:
    """TFLM's CalculateReluOpData<int8_t>: (in_zp, out_zp, multiplier, shift, act_min, act_max)."""
    sx, zx = scale_zp(x)
    sy, zy = scale_zp(y)
    m, sh = quantize_multiplier(sx / sy)
    act_min = max(-128, zy + std_round(float(np.float32(0.0) / np.float32(sy))))
    return zx, zy, m, sh, act_min, 127


def relu_s8_reference(code: int, in_zp: int, out_zp: int, multiplier: int, shift: int, act_min: int,
                      act_max: int) -> int:
    """td_relu_s8 for one input code."""
    r = out_zp + mul_by_quantized_multiplier(code - in_zp, multiplier, shift)
    return max(act_min, min(act_max, r))


@lowering("RELU", "RELU6")
def lower_relu(op: Operator, ctx: LoweringContext) -> None:
    if ctx.input(op, 0).dtype == "int16":
        _lower_relu_s16(op, ctx)
        return
    x, y = _unary(op, ctx)
    ctx.kernel("relu")
    src, dst = ctx.ptr(x), ctx.ptr(y)
    if x.dtype == "float32":
        hi = "INFINITY" if op.opcode == "RELU" else c_float(6.0)
        ctx.emit(f"td_clamp_f32({src}, {dst}, {x.size}, 0.0f, {hi});")
        return
    if op.opcode == "RELU":
        args = relu_s8_args(x, y)
        if _use_lut(ctx, x):
            _emit_lut(ctx, "relu", [relu_s8_reference(c, *args) for c in INT8_CODES], src, dst, x.size)
            return
        ctx.emit(f"td_relu_s8({src}, {dst}, {x.size}, {', '.join(str(v) for v in args)});")
        return
    sx, zx = scale_zp(x)
    ctx.emit(f"td_clamp_s8({src}, {dst}, {x.size}, {zx}, {float_to_quantized_s8(6.0, sx, zx)});")


def _lower_relu_s16(op: Operator, ctx: LoweringContext) -> None:
    """TFLM's int16 RELU (ReluQuantized<int16_t>: int8's parameters and arithmetic on int16 codes) and RELU6
    (Relu6Quantized<int16_t>: a clamp to [in_zp, quantize(6)] in the input's scale)."""
    x, y = ctx.input(op, 0), ctx.output(op, 0)
    if y.dtype != "int16" or x.size != y.size:
        raise ctx.unsupported(op, f"{x.dtype}{list(x.shape)} -> {y.dtype}{list(y.shape)} (int16 -> int16)")
    check_quantized(op, ctx, x, y)
    ctx.allow_inplace(op, x, y)
    ctx.kernel("relu_s16")
    src, dst = ctx.ptr(x), ctx.ptr(y)
    sx, zx = scale_zp(x)
    if op.opcode == "RELU6":
        six = std_round(float(np.float32(6.0) / np.float32(sx))) + zx
        ctx.emit(f"td_clamp_s16({src}, {dst}, {x.size}, {zx}, {max(-32768, min(32767, six))});")
        return
    sy, zy = scale_zp(y)
    m, sh = quantize_multiplier(float(sx) / float(sy))  # double division, as for int8 (measured)
    act_min = max(-32768, zy)  # zero point + round(0 / out_scale)
    ctx.emit(f"td_relu_s16({src}, {dst}, {x.size}, {zx}, {zy}, {m}, {sh}, {act_min}, 32767);")


def leaky_relu_s8_params(x: Tensor, y: Tensor, alpha: float) -> dict[str, int]:
    """TFLM's LeakyRelu Prepare for int8: the real multipliers are computed in float32, then widened."""
    sx, zx = scale_zp(x)
    sy, zy = scale_zp(y)
    f_sx, f_sy, f_alpha = np.float32(sx), np.float32(sy), np.float32(alpha)
    alpha_real = float(np.float32(np.float32(f_sx * f_alpha) / f_sy))
    identity_real = float(np.float32(f_sx / f_sy))
    # A negative alpha multiplies by |alpha| and negates: TFLM's results at exact rounding ties match that,
    # not a negative Q31 multiplier (checked against its interpreter over all 256 input codes).
    ma, sa = quantize_multiplier(abs(alpha_real))
    mi, si = quantize_multiplier(identity_real)
    return {"in_zp": zx, "out_zp": zy, "identity_multiplier": mi, "identity_shift": si,
            "alpha_multiplier": ma, "alpha_shift": sa, "alpha_negative": int(alpha_real < 0)}


def leaky_relu_s8_reference(code: int, p: dict[str, int]) -> int:
    """td_leaky_relu_s8 for one input code."""
    d = code - p["in_zp"]
    if d >= 0:
        r = mul_by_quantized_multiplier(d, p["identity_multiplier"], p["identity_shift"])
    else:
        r = mul_by_quantized_multiplier(d, p["alpha_multiplier"], p["alpha_shift"])
        r = -r if p["alpha_negative"] else r
    return max(-128, min(127, p["out_zp"] + r))


@lowering("LEAKY_RELU")
def lower_leaky_relu(op: Operator, ctx: LoweringContext) -> None:
    if ctx.input(op, 0).dtype == "int16":
        _lower_leaky_relu_s16(op, ctx)
        return
    x, y = _unary(op, ctx)
    alpha = float(op.options.get("alpha", 0.0))
    ctx.kernel("leaky_relu")
    src, dst = ctx.ptr(x), ctx.ptr(y)
    if x.dtype == "float32":
        ctx.emit(f"td_leaky_relu_f32({src}, {dst}, {x.size}, {c_float(alpha)});")
        return
    p = leaky_relu_s8_params(x, y, alpha)
    if _use_lut(ctx, x):
        ctx.kernel("relu")  # td_lut_s8
        _emit_lut(ctx, "leaky_relu", [leaky_relu_s8_reference(c, p) for c in INT8_CODES], src, dst, x.size)
        return
    fields = ", ".join(f".{k} = {v}" for k, v in p.items())
    ctx.emit("{\n"
             f"  static const td_leaky_relu_s8_params p = {{{fields}}};\n"
             f"  td_leaky_relu_s8({src}, {dst}, {x.size}, &p);\n"
             "}")


def _lower_leaky_relu_s16(op: Operator, ctx: LoweringContext) -> None:
    """TFLM's QuantizeLeakyRelu<int16_t>: the int8 parameters and arithmetic on int16 codes."""
    x, y = ctx.input(op, 0), ctx.output(op, 0)
    if y.dtype != "int16" or x.size != y.size:
        raise ctx.unsupported(op, f"{x.dtype}{list(x.shape)} -> {y.dtype}{list(y.shape)} (int16 -> int16)")
    check_quantized(op, ctx, x, y)
    ctx.allow_inplace(op, x, y)
    p = leaky_relu_s8_params(x, y, float(op.options.get("alpha", 0.0)))
    ctx.kernel("leaky_relu")
    ctx.kernel("leaky_relu_s16")
    fields = ", ".join(f".{k} = {v}" for k, v in p.items())
    ctx.emit("{\n"
             f"  static const td_leaky_relu_s8_params p = {{{fields}}};\n"
             f"  td_leaky_relu_s16({ctx.ptr(x)}, {ctx.ptr(y)}, {x.size}, &p);\n"
             "}")
