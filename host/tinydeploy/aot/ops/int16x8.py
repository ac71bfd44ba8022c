"""The 16x8 lowerings (int16 activations, int8 weights): CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, ADD, MUL,
SOFTMAX, LOGISTIC and TANH as TFLite Micro's reference kernels run them.  The ops' own modules (conv2d.py,
...) dispatch here on int16 tensors; nothing is registered in this module.

TFLM's 16x8 arithmetic: zero points are 0; the convolutions and the fully connected layer accumulate in
the bias's type -- int64 (what the converter writes: MultiplyByQuantizedMultiplier's int64 overload; also
without a bias, as the tflite-micro interpreter shows) or int32 (gemmlowp's double rounding), see
firmware/aot/kernels/td_requant_s16.h; ADD takes the general path with a left shift of 15 (binary.sub_params
computes the same parameters); MUL is the int8 arithmetic on int16 codes; SOFTMAX looks exp and 1/(1+x) up
in 513-entry tables that TFLM's Prepare builds in float32 (gen_lut), rebuilt here bit for bit; LOGISTIC and
TANH rescale the input as TFLM's Prepare does and interpolate the sigmoid table of sigmoid_table.py.
"""

from __future__ import annotations

import math

import numpy as np

from tinydeploy.aot.lowering import LoweringContext, quant_of
from tinydeploy.aot.quant import activation_range_s8, per_channel_multipliers, quantize_multiplier, std_round
from tinydeploy.model.graph import Operator, Tensor

INT16_MIN, INT16_MAX = -32768, 32767
# td_requant_s16.h's bias kinds
ACC32_NO_BIAS, ACC32_BIAS32, ACC64_NO_BIAS, ACC64_BIAS64 = 0, 1, 2, 3
FIX = "quantize with tinydeploy's int16x8 mode (int16 activations with zero point 0, int8 weights)"


def check_zero_points(op: Operator, ctx: LoweringContext, *tensors: Tensor) -> None:
    """TFLM requires zero point 0 on every int16 tensor of these ops."""
    for t in tensors:
        if t.quant is None or not t.quant.scale.size:
            raise ctx.unsupported(op, f"int16 tensor '{t.name}' is not quantized; {FIX}")
        if np.any(t.quant.zero_point != 0):
            raise ctx.unsupported(op, f"int16 tensor '{t.name}' has zero point {int(t.quant.zero_point[0])}; "
                                      f"TFLite Micro requires 0 for int16; {FIX}")


def activation_range_s16(op: Operator, ctx: LoweringContext, y: Tensor) -> tuple[int, int]:
    act = op.options.get("fused_activation_function", "NONE")
    scale, zp = quant_of(y)
    try:
        return activation_range_s8(act, scale, zp, INT16_MIN, INT16_MAX)
    except ValueError:
        raise ctx.unsupported(op, f"fused activation {act}") from None


def bias_arg(op: Operator, ctx: LoweringContext, no_bias_kind: int) -> tuple[str, int]:
    """The bias pointer and its td_requant_s16 kind (which accumulator TFLM uses)."""
    if not ctx.has_input(op, 2):
        return "NULL", no_bias_kind
    b = ctx.input(op, 2)
    if not b.is_constant:
        raise ctx.unsupported(op, f"bias '{b.name}' is not a constant")
    kinds = {"int64": ACC64_BIAS64, "int32": ACC32_BIAS32}
    if b.dtype not in kinds:
        raise ctx.unsupported(op, f"16x8 bias '{b.name}' has type {b.dtype} (int64 or int32 expected); {FIX}")
    return ctx.ptr(b), kinds[b.dtype]


def filter_multipliers(op: Operator, ctx: LoweringContext, x: Tensor, w: Tensor, y: Tensor, channels: int
                       ) -> tuple[str, str]:
    """Per-channel (or per-tensor, repeated) multipliers as TFLM's Prepare computes them."""
    if w.quant is None or not w.quant.scale.size:
        raise ctx.unsupported(op, f"filter '{w.name}' is not quantized")
    scales = w.quant.scale if w.quant.scale.size > 1 else np.repeat(w.quant.scale, channels)
    if scales.size != channels:
        raise ctx.unsupported(op, f"filter has {scales.size} scales for {channels} output channels")
    mult, shift = per_channel_multipliers(quant_of(x)[0], scales, quant_of(y)[0])
    return ctx.const("mult", mult, "int32_t"), ctx.const("shift", shift, "int32_t")


def _conv_common(op: Operator, ctx: LoweringContext, channels: int, no_bias_kind: int
                 ) -> tuple[Tensor, Tensor, Tensor, str, str, dict[str, int], str]:
    x, w, y = ctx.input(op, 0), ctx.input(op, 1), ctx.output(op, 0)
    check_zero_points(op, ctx, x, y)
    if w.quant is not None and np.any(w.quant.zero_point != 0):
        raise ctx.unsupported(op, f"filter '{w.name}' has a non-zero zero point")
    mult, shift = filter_multipliers(op, ctx, x, w, y, channels)
    lo, hi = activation_range_s16(op, ctx, y)
    bias, kind = bias_arg(op, ctx, no_bias_kind)
    return x, w, y, mult, shift, {"act_min": lo, "act_max": hi, "bias_kind": kind}, bias


def lower_conv2d_s16(op: Operator, ctx: LoweringContext, geo: dict[str, int]) -> None:
    """TFLM's ConvPerChannel for int16 input (the int64 accumulator without a bias, as its Eval picks)."""
    x, w, y, mult, shift, q, bias = _conv_common(op, ctx, geo["out_c"], ACC64_NO_BIAS)
    params = ctx.struct("params", "td_conv2d_s16_params", {**geo, **q})
    ctx.kernel("conv2d_s16")
    ctx.emit(f"td_conv2d_s16({params}, {ctx.ptr(x)}, {ctx.ptr(w)}, {bias}, {mult}, {shift}, {ctx.ptr(y)});")


def lower_depthwise_conv2d_s16(op: Operator, ctx: LoweringContext, geo: dict[str, int]) -> None:
    """TFLM's DepthwiseConvPerChannel for int16 input (always the int64 accumulator)."""
    x, w, y, mult, shift, q, bias = _conv_common(op, ctx, geo["out_c"], ACC64_NO_BIAS)
    if q["bias_kind"] == ACC32_BIAS32:
        raise ctx.unsupported(op, f"16x8 depthwise bias '{ctx.input(op, 2).name}' is int32; TFLite Micro reads "
                                  f"an int64 bias here; {FIX}")
    params = ctx.struct("params", "td_depthwise_conv2d_s16_params", {**geo, **q})
    ctx.kernel("depthwise_conv2d_s16")
    ctx.emit(f"td_depthwise_conv2d_s16({params}, {ctx.ptr(x)}, {ctx.ptr(w)}, {bias}, {mult}, {shift}, "
             f"{ctx.ptr(y)});")


def lower_fully_connected_s16(op: Operator, ctx: LoweringContext, batches: int, depth: int, out_c: int) -> None:
    """TFLM's FullyConnected / FullyConnectedPerChannel for int16 input."""
    x, w, y = ctx.input(op, 0), ctx.input(op, 1), ctx.output(op, 0)
    check_zero_points(op, ctx, x, y)
    if w.quant is None or not w.quant.scale.size:
        raise ctx.unsupported(op, f"weights '{w.name}' are not quantized")
    per_channel = w.quant.scale.size > 1
    if per_channel and w.quant.scale.size != out_c:
        raise ctx.unsupported(op, f"{w.quant.scale.size} weight scales for {out_c} units")
    if per_channel and np.any(w.quant.zero_point != 0):
        raise ctx.unsupported(op, "per-channel weights with non-zero zero points")
    mult, shift = per_channel_multipliers(quant_of(x)[0], w.quant.scale, quant_of(y)[0])
    lo, hi = activation_range_s16(op, ctx, y)
    bias, kind = bias_arg(op, ctx, ACC64_NO_BIAS)
    params = ctx.struct("params", "td_fully_connected_s16_params", {
        "batches": batches, "depth": depth, "out_c": out_c,
        "filter_offset": 0 if per_channel else -int(w.quant.zero_point[0]),
        "act_min": lo, "act_max": hi, "per_channel": int(per_channel), "bias_kind": kind})
    ctx.kernel("fully_connected_s16")
    ctx.emit(f"td_fully_connected_s16({params}, {ctx.ptr(x)}, {ctx.ptr(w)}, {bias}, "
             f"{ctx.const('mult', mult, 'int32_t')}, {ctx.const('shift', shift, 'int32_t')}, {ctx.ptr(y)});")


def lower_add_s16(op: Operator, ctx: LoweringContext) -> None:
    """TFLM's int16 ADD: the general path, left shift 15 (parameters as binary.sub_params computes them)."""
    from tinydeploy.aot.ops.binary import binary_operands, emit_broadcast, quantized_range, sub_params
    from tinydeploy.aot.ops.elementwise import check_quantized

    a, b, y = binary_operands(op, ctx, ("int16",))
    check_quantized(op, ctx, a, b, y)
    check_zero_points(op, ctx, a, b, y)
    params = sub_params(a, b, y)
    if max(params["a_shift"], params["b_shift"], params["out_shift"]) > 0:
        raise ctx.unsupported(op, "the output scale of int16 ADD is too small relative to the input scales (a "
                                  "rescale above 1 that TFLM's smaller-than-one arithmetic cannot express)")
    params["act_min"], params["act_max"] = quantized_range(op, ctx, y)
    ctx.kernel("add_s16")
    fields = ", ".join(f".{k} = {v}" for k, v in params.items())
    emit_broadcast(op, ctx, a, b, y, "td_add_s16({args}, &p);", f"static const td_add_s8_params p = {{{fields}}};")


# --- SOFTMAX ----------------------------------------------------------------------------------------------

LUT_STEPS = 512  # gen_lut's steps for int16 input; one more entry holds the last slope
F32 = np.float32


def _round_f32(v: np.float32) -> np.float32:
    """TfLiteRound on float: std::round (half away from zero), exact on float32 values."""
    return F32(std_round(float(v)))


def _expf(v: np.float32) -> np.float32:
    """std::exp(float): glibc's expf is within 0.502 ulp, i.e. the correctly rounded value except at
    near-ties; the double exp rounded to float32 gives that value (checked against expf in the tests)."""
    return F32(math.exp(float(v)))


def _one_over_one_plus_x(v: np.float32) -> np.float32:
    return F32(1.0) / (F32(1.0) + v)


def gen_lut_s16(func, input_min: float, input_max: float, output_min: float = -1.0, output_max: float = 1.0
                ) -> np.ndarray:
    """TFLM's gen_lut<float, int16_t, int16_t>: 512 samples, each biased by half the interpolation error at
    its midpoint, plus func(input_max); every step in float32 as TFLM computes it."""
    lo, hi = F32(input_min), F32(input_max)
    step = F32(hi - lo) / F32(LUT_STEPS)
    half_step = step / F32(2)
    scaling = F32(65536) / F32(F32(output_max) - F32(output_min))
    lut = np.zeros(LUT_STEPS + 1, dtype=np.int16)
    for i in range(LUT_STEPS):
        at = lo + F32(i) * step
        val, val_mid, val_next = func(at), func(at + half_step), func(lo + F32(i + 1) * step)
        sample = _round_f32(val * scaling)
        interp = _round_f32((val_next * scaling + _round_f32(val * scaling)) / F32(2))
        mid = _round_f32(val_mid * scaling)
        bias = _round_f32((interp - mid) / F32(2))
        lut[i] = int(min(max(sample - bias, F32(INT16_MIN)), F32(INT16_MAX)))
    lut[LUT_STEPS] = int(min(max(_round_f32(func(hi) * scaling), F32(INT16_MIN)), F32(INT16_MAX)))
    return lut


def softmax_luts() -> tuple[np.ndarray, np.ndarray]:
    """The exp table over [-10, 0] and the 1 / (1 + x) table over [0, 1] of TFLM's int16 SoftmaxPrepare."""
    return gen_lut_s16(_expf, -10.0, 0.0), gen_lut_s16(_one_over_one_plus_x, 0.0, 1.0)


def softmax_s16_multiplier(input_scale: float, beta: float) -> tuple[int, int]:
    """input_scale * beta / (10 / 65535) as a Q31 multiplier and shift (TFLM's CalculateSoftmaxParams)."""
    return quantize_multiplier(float(F32(input_scale)) * float(F32(beta)) / (10.0 / 65535.0))


def lower_softmax_s16(op: Operator, ctx: LoweringContext, outer: int, depth: int) -> None:
    x, y = ctx.input(op, 0), ctx.output(op, 0)
    if y.dtype != "int16":
        raise ctx.unsupported(op, f"softmax from int16 to {y.dtype} (TFLite Micro runs int16 -> int16)")
    check_zero_points(op, ctx, x, y)
    out_scale = float(F32(y.quant.scale[0]))
    if abs(out_scale - 1 / 32768) > 0.001 / 32768:
        raise ctx.unsupported(op, f"int16 softmax output must have scale 1/32768 (has {out_scale:g}); TFLM "
                                  "rejects it too")
    mult, shift = softmax_s16_multiplier(quant_of(x)[0], float(op.options.get("beta", 0.0)))
    exp_lut, recip_lut = softmax_luts()
    ctx.kernel("softmax_s16")
    ctx.allow_inplace(op, x, y)
    ctx.emit(f"td_softmax_s16({ctx.ptr(x)}, {ctx.ptr(y)}, {outer}, {depth}, {mult}, {shift}, "
             f"{ctx.const('exp_lut', exp_lut, 'int16_t')}, {ctx.const('recip_lut', recip_lut, 'int16_t')});")


def lower_mul_s16(op: Operator, ctx: LoweringContext) -> None:
    """TFLM's int16 MUL: the int8 arithmetic (elementwise.mul_s8_params) on int16 codes."""
    from tinydeploy.aot.ops.binary import binary_operands, emit_broadcast, quantized_range
    from tinydeploy.aot.ops.elementwise import check_quantized, mul_s8_params

    a, b, y = binary_operands(op, ctx, ("int16",))
    check_quantized(op, ctx, a, b, y)
    check_zero_points(op, ctx, a, b, y)
    params = mul_s8_params(a, b, y)
    params["act_min"], params["act_max"] = quantized_range(op, ctx, y)
    ctx.kernel("mul")
    ctx.kernel("mul_s16")
    fields = ", ".join(f".{k} = {v}" for k, v in params.items())
    emit_broadcast(op, ctx, a, b, y, "td_mul_s16({args}, &p);", f"static const td_mul_s8_params p = {{{fields}}};")


# --- LOGISTIC and TANH ------------------------------------------------------------------------------------

# TFLM's Prepare takes its power-of-two fast path when 12 + log2(input scale) is one of these shifts.
POT_SHIFTS = {"logistic": (0,), "tanh": (0, 1)}
S16_NONLINEAR_INPUT_INTEGER_BITS = 3
S16_NONLINEAR_OUTPUT_LOG2_SCALE = -15


def checked_log2(x: float) -> tuple[bool, int]:
    """TFLite's CheckedLog2 in float32: (whether x is a power of two to 1e-3 in the exponent, the exponent)."""
    x_log2 = F32(np.log(F32(x))) * (F32(1.0) / F32(np.log(F32(2.0))))
    rounded = _round_f32(F32(x_log2))
    return bool(abs(float(F32(x_log2) - rounded)) < 1e-3), int(rounded)


def saturating_s16_rescale(name: str, input_scale: float) -> tuple[int, int]:
    """The input (multiplier, right shift) of TFLM's int16 LOGISTIC / TANH as its Eval applies them:
    Prepare's power-of-two case (multiplier 0) becomes 3 << shift, shift 0; otherwise the double
    input_scale * 3 * 2^12 is doubled until it exceeds 2^14 - 0.5 (at most 31 times) and truncated."""
    is_pot, log2 = checked_log2(input_scale)
    shift = (15 - S16_NONLINEAR_INPUT_INTEGER_BITS) + log2
    if is_pot and shift in POT_SHIFTS[name]:
        return 3 << shift, 0
    multiplier, shift = float(F32(input_scale)) * 4096.0 * 3.0, 0
    while multiplier <= 32767.0 / 2.0 and shift <= 30:
        shift += 1
        multiplier *= 2.0
    return int(multiplier), shift


def lower_saturating_s16(op: Operator, ctx: LoweringContext, name: str) -> None:
    """TFLM's int16 LOGISTIC / TANH: rescale, then interpolate the generated sigmoid table (sigmoid_table.py)."""
    from tinydeploy.aot.sigmoid_table import shared_sigmoid_table

    x, y = ctx.input(op, 0), ctx.output(op, 0)
    if y.dtype != "int16" or x.size != y.size:
        raise ctx.unsupported(op, f"{x.dtype}{list(x.shape)} -> {y.dtype}{list(y.shape)} (int16 -> int16)")
    check_zero_points(op, ctx, x, y)
    out_pot, out_log2 = checked_log2(quant_of(y)[0])
    if not out_pot or out_log2 != S16_NONLINEAR_OUTPUT_LOG2_SCALE:
        raise ctx.unsupported(op, f"int16 {op.opcode} output must have scale 2^-15 (has {quant_of(y)[0]:g}); "
                                  "TFLM rejects it too")
    multiplier, shift = saturating_s16_rescale(name, quant_of(x)[0])
    if multiplier > INT16_MAX:
        raise ctx.unsupported(op, f"int16 {op.opcode} input scale {quant_of(x)[0]:g} is above 32767 / 12288; "
                                  "TFLM's int16 kernel overflows there")
    ctx.kernel(f"{name}_s16")
    ctx.allow_inplace(op, x, y)
    ctx.emit(f"td_{name}_s16({ctx.ptr(x)}, {ctx.ptr(y)}, {x.size}, {multiplier}, {shift}, "
             f"{shared_sigmoid_table(ctx)});")
