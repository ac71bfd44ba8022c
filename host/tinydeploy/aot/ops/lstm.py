"""UNIDIRECTIONAL_SEQUENCE_LSTM (float32, and TFLM's integer LSTM: int8 activations, int16 cell), as TFLite
Micro's kernel runs it (the 2023 "LSTM kernel" rewrite: lstm_eval.h / lstm_eval_common.cc).

What a Keras LSTM converts to: 24 inputs (x; input and recurrent weights of the input, forget, cell and
output gates; the four gate biases; the hidden and cell state as variable tensors), no peephole, projection,
layer norm or CIFG — TFLM's kernel refuses those too, and so does this lowering.

State: TFLM keeps h and c in variable tensors that its interpreter resets (h to its zero point, c to 0) at
allocation and on every `reset()`, which the host reference calls after each sample.  The generated code
resets them at the start of each invoke, so every inference starts from a zero state like one verified
sample does.  The state tensors are arena tensors live only during this op; the gates' four buffers are
op scratch.

Integer parameters, as TFLM's PrepareGateParametersInteger computes them: each gate's input FC (with the
gate bias) and recurrent FC (no bias) requantize to int16 at the float32 scale 0.00024414062 (2^-12, Q3.12);
sigmoid/tanh outputs have the scale 2^-15 exactly (Q0.15; taking the float32 of the literal 0.00003051757
that TFLM's source once had, 2^-15 less 4 ulp, puts a few values in 10^4 1 LSB off the host interpreter).
The gate FC multipliers use the float32 product of input and weight scales (GetQuantizedConvolutionMultipler);
the double product gives the same outputs on every model tried.  The cell state scale is a power of two
(its exponent sets the tanh input shift).
"""

from __future__ import annotations

import numpy as np

from tinydeploy.aot.lowering import LoweringContext, lowering, quant_of
from tinydeploy.aot.quant import quantize_multiplier
from tinydeploy.aot.sigmoid_table import shared_sigmoid_table
from tinydeploy.model.graph import Operator, Tensor

GATES = ("input", "forget", "cell", "output")  # tensor order; the kernels' TD_LSTM_GATE_* follow it
INPUT, STATE_H, STATE_C = 0, 18, 19
W_IN, W_REC, BIAS = 1, 5, 12  # + gate index
UNSUPPORTED_INPUTS = {9: "peephole", 10: "peephole", 11: "peephole", 16: "projection", 17: "projection",
                      20: "layer norm", 21: "layer norm", 22: "layer norm", 23: "layer norm"}
GATE_INPUT_SCALE = np.float32(0.00024414062)  # TFLM's nonlinear_input_scale (Q3.12)
GATE_OUTPUT_SCALE = np.float32(2.0 ** -15)  # TFLM's nonlinear_output_scale (Q0.15): exactly 2^-15 (measured)
CELL_ACTIVATIONS = {"TANH": 0, "SIGMOID": 1}  # TD_LSTM_ACT_*: TFLM's gate code has these two only


def _checked_tensors(op: Operator, ctx: LoweringContext) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    if len(op.inputs) != 24:
        raise ctx.unsupported(op, f"{len(op.inputs)} inputs; TFLite Micro's LSTM takes 24")
    for i, what in UNSUPPORTED_INPUTS.items():
        if ctx.has_input(op, i):
            raise ctx.unsupported(op, f"it has {what} tensors (input {i}); TFLite Micro's LSTM runs the standard "
                                      "Keras LSTM only (no peephole, projection, layer norm)")
    for i in [*range(1, 9), *range(12, 16)]:
        if not ctx.has_input(op, i) or not ctx.input(op, i).is_constant:
            raise ctx.unsupported(op, f"input {i} is not a constant weight/bias (CIFG or runtime weights); "
                                      "TFLite Micro's LSTM needs all four gates' constant weights")
    x, h, c, y = ctx.input(op, INPUT), ctx.input(op, STATE_H), ctx.input(op, STATE_C), ctx.output(op, 0)
    for state in (h, c):
        if state.is_constant or not state.is_variable:
            raise ctx.unsupported(op, f"state tensor '{state.name}' is not a variable tensor")
    if len(x.shape) != 3 or len(y.shape) != 3:
        raise ctx.unsupported(op, f"input {list(x.shape)} / output {list(y.shape)} are not 3-D")
    return x, h, c, y


def _geometry(op: Operator, ctx: LoweringContext, x: Tensor, h: Tensor, c: Tensor, y: Tensor
              ) -> tuple[bool, int, int, int, int]:
    """(time_major, batch, steps, n_input, n_cell), checked against every weight, bias and state."""
    time_major = bool(op.options.get("time_major", False))
    steps, batch = (x.shape[0], x.shape[1]) if time_major else (x.shape[1], x.shape[0])
    n_input = int(x.shape[2])
    n_cell = int(ctx.input(op, W_IN + 1).shape[0])
    for g in range(4):
        if tuple(ctx.input(op, W_IN + g).shape) != (n_cell, n_input):
            raise ctx.unsupported(op, f"{GATES[g]} input weights {list(ctx.input(op, W_IN + g).shape)}, "
                                      f"expected {[n_cell, n_input]}")
        if tuple(ctx.input(op, W_REC + g).shape) != (n_cell, n_cell):
            raise ctx.unsupported(op, f"{GATES[g]} recurrent weights {list(ctx.input(op, W_REC + g).shape)}, "
                                      f"expected {[n_cell, n_cell]}")
        if ctx.input(op, BIAS + g).size != n_cell:
            raise ctx.unsupported(op, f"{GATES[g]} gate bias has {ctx.input(op, BIAS + g).size} values, "
                                      f"expected {n_cell}")
    if h.size != batch * n_cell or c.size != batch * n_cell:
        raise ctx.unsupported(op, f"state sizes {h.size}/{c.size}, expected {batch * n_cell}")
    if tuple(y.shape[:2]) != tuple(x.shape[:2]) or y.shape[2] != n_cell:
        raise ctx.unsupported(op, f"output {list(y.shape)} does not match input {list(x.shape)} and {n_cell} units")
    return time_major, int(batch), int(steps), n_input, n_cell


def _cell_activation(op: Operator, ctx: LoweringContext) -> int:
    act = op.options.get("fused_activation_function", "TANH")
    if act not in CELL_ACTIVATIONS:
        raise ctx.unsupported(op, f"cell activation {act}; TFLite Micro's LSTM runs tanh or sigmoid only")
    return CELL_ACTIVATIONS[act]


def _emit_sequences(ctx: LoweringContext, call: str, time_major: bool, batch: int, steps: int, n_input: int,
                    n_cell: int, reset: str) -> None:
    """One kernel call for a time-major input (all sequences side by side), else one per sequence."""
    ctx.emit(reset)
    if time_major or batch == 1:
        ctx.emit(call.format(x="0", s="0", y="0"))
        return
    ctx.emit(f"for (int32_t td_b = 0; td_b < {batch}; ++td_b) {{")
    ctx.emit("  " + call.format(x=f"td_b * {steps * n_input}", s=f"td_b * {n_cell}", y=f"td_b * {steps * n_cell}"))
    ctx.emit("}")


def _common_fields(ctx: LoweringContext, op: Operator, time_major: bool, batch: int, steps: int, n_input: int,
                   n_cell: int, ctype: str) -> dict[str, object]:
    rows = batch if time_major else 1
    return {
        "steps": steps, "rows": rows, "n_input": n_input, "n_cell": n_cell,
        "in_stride": rows * n_input, "out_stride": rows * n_cell, "cell_act": _cell_activation(op, ctx),
        "w_in": "{" + ", ".join(ctx.ptr(ctx.input(op, W_IN + g)) for g in range(4)) + "}",
        "w_rec": "{" + ", ".join(ctx.ptr(ctx.input(op, W_REC + g)) for g in range(4)) + "}",
        "bias": "{" + ", ".join(ctx.ptr(ctx.input(op, BIAS + g), ctype) for g in range(4)) + "}",
    }


@lowering("UNIDIRECTIONAL_SEQUENCE_LSTM")
def lower_lstm(op: Operator, ctx: LoweringContext) -> None:
    x, h, c, y = _checked_tensors(op, ctx)
    time_major, batch, steps, n_input, n_cell = _geometry(op, ctx, x, h, c, y)
    weights = ctx.input(op, W_IN + 1)
    bias = ctx.input(op, BIAS + 1)
    kinds = (x.dtype, weights.dtype, bias.dtype, h.dtype, c.dtype, y.dtype)
    if kinds == ("float32",) * 6:
        _lower_f32(op, ctx, x, h, c, y, time_major, batch, steps, n_input, n_cell)
    elif kinds == ("int8", "int8", "int32", "int8", "int16", "int8"):
        _lower_s8(op, ctx, x, h, c, y, time_major, batch, steps, n_input, n_cell)
    else:
        raise ctx.unsupported(op, "input/weights/bias/hidden/cell/output types " + "/".join(kinds) +
                              "; TFLite Micro's LSTM runs float32 and int8 (int16 cell, int32 bias)")


def _lower_f32(op: Operator, ctx: LoweringContext, x: Tensor, h: Tensor, c: Tensor, y: Tensor, time_major: bool,
               batch: int, steps: int, n_input: int, n_cell: int) -> None:
    for g in range(4):
        for t in (ctx.input(op, W_IN + g), ctx.input(op, W_REC + g), ctx.input(op, BIAS + g)):
            if t.dtype != "float32":
                raise ctx.unsupported(op, f"tensor '{t.name}' is {t.dtype} in a float32 LSTM (hybrid LSTMs are "
                                          "not run by TFLite Micro)")
    cell_clip = float(op.options.get("cell_clip", 0.0))
    params = ctx.struct("params", "td_lstm_f32_params", {
        **_common_fields(ctx, op, time_major, batch, steps, n_input, n_cell, "float"),
        "cell_clip": float(np.float32(cell_clip))})
    scratch = ctx.scratch(op, 4 * (batch if time_major else 1) * n_cell * 4)
    ctx.kernel("logistic_f32")
    ctx.kernel("tanh_f32")
    ctx.kernel("lstm_f32")
    n = batch * n_cell
    reset = (f"for (int32_t td_i = 0; td_i < {n}; ++td_i) {{ {ctx.ptr(h)}[td_i] = 0.0f; "
             f"{ctx.ptr(c)}[td_i] = 0.0f; }}")
    call = (f"td_lstm_f32({params}, {ctx.ptr(x)} + {{x}}, {ctx.ptr(h)} + {{s}}, {ctx.ptr(c)} + {{s}}, "
            f"{ctx.ptr(y)} + {{y}}, (float *){scratch});")
    _emit_sequences(ctx, call, time_major, batch, steps, n_input, n_cell, reset)


def _fc_rq(in_scale: float, w: Tensor) -> dict[str, int]:
    """TFLM's GetQuantizedConvolutionMultipler for a gate FC: float32 product of the input and weight scales,
    divided in double by the Q3.12 gate scale."""
    product = np.float32(in_scale) * np.float32(w.quant.scale[0])
    mult, shift = quantize_multiplier(float(product) / float(GATE_INPUT_SCALE))
    return {"mult": mult, "shift": shift}


def _mul_rq(scale_a: float, scale_b: float, out_scale: float, out_zp: int, lo: int, hi: int) -> dict[str, int]:
    """TFLM's CreateInterGateMulParams: double product of the float32 scales over the output scale."""
    real = float(np.float32(scale_a)) * float(np.float32(scale_b)) / float(np.float32(out_scale))
    mult, shift = quantize_multiplier(real)
    return {"mult": mult, "shift": shift, "out_zp": out_zp, "out_min": lo, "out_max": hi}


def _tanh_shift(op: Operator, ctx: LoweringContext, cell_scale: float) -> tuple[int, int]:
    """The cell state's power-of-two exponent (TFLM's CheckedLog2) -> Tanh's (multiplier, right shift)."""
    power = int(round(np.log2(cell_scale))) if cell_scale > 0 else 0
    if cell_scale <= 0 or abs(np.log2(cell_scale) - power) > 1e-3:
        raise ctx.unsupported(op, f"cell state scale {cell_scale} is not a power of two")
    left = (15 + power) - 3
    multiplier = 0
    if left < 0:
        left, multiplier = -left, 3
    if multiplier == 0:  # reference Tanh's power-of-two case
        multiplier, left = 3 << left, 0
    return multiplier, left


def _lower_s8(op: Operator, ctx: LoweringContext, x: Tensor, h: Tensor, c: Tensor, y: Tensor, time_major: bool,
              batch: int, steps: int, n_input: int, n_cell: int) -> None:
    in_scale, in_zp = quant_of(x)
    h_scale, h_zp = quant_of(h)
    c_scale, c_zp = quant_of(c)
    y_scale, y_zp = quant_of(y)
    if not in_scale or not h_scale or not c_scale:
        raise ctx.unsupported(op, "input, hidden state or cell state is not quantized")
    if c_zp != 0:
        raise ctx.unsupported(op, f"cell state zero point {c_zp}; TFLite Micro's LSTM needs 0")
    if (y_scale, y_zp) != (h_scale, h_zp):
        raise ctx.unsupported(op, "output and hidden state are quantized differently; TFLite Micro copies the "
                                  "hidden state to the output unchanged")
    fc_in, fc_rec = [], []
    for g in range(4):
        for t in (ctx.input(op, W_IN + g), ctx.input(op, W_REC + g)):
            if t.quant is None or t.quant.scale.size != 1 or int(t.quant.zero_point[0]) != 0:
                raise ctx.unsupported(op, f"weights '{t.name}' are not per-tensor symmetric int8")
        fc_in.append(_fc_rq(in_scale, ctx.input(op, W_IN + g)))
        fc_rec.append(_fc_rq(h_scale, ctx.input(op, W_REC + g)))
    tanh_mult, tanh_shift = _tanh_shift(op, ctx, c_scale)
    cell_clip = float(op.options.get("cell_clip", 0.0))
    q_clip = int(min(max(cell_clip / float(np.float32(c_scale)), -32768.0), 32767.0)) if cell_clip > 0 else 0
    params = ctx.struct("params", "td_lstm_s8_params", {
        **_common_fields(ctx, op, time_major, batch, steps, n_input, n_cell, "int32_t"),
        "input_zp": in_zp, "hidden_zp": h_zp, "cell_clip": q_clip,
        "tanh_mult": tanh_mult, "tanh_shift": tanh_shift,
        "fc_in": "{" + ", ".join(f"{{{f['mult']}, {f['shift']}}}" for f in fc_in) + "}",
        "fc_rec": "{" + ", ".join(f"{{{f['mult']}, {f['shift']}}}" for f in fc_rec) + "}",
        "forget_mul": _mul_rq(GATE_OUTPUT_SCALE, c_scale, c_scale, 0, -32768, 32767),
        "input_mul": _mul_rq(GATE_OUTPUT_SCALE, GATE_OUTPUT_SCALE, c_scale, 0, -32768, 32767),
        "hidden_mul": _mul_rq(GATE_OUTPUT_SCALE, GATE_OUTPUT_SCALE, h_scale, h_zp, -128, 127),
        "sigmoid_table": shared_sigmoid_table(ctx),
    })
    scratch = ctx.scratch(op, 4 * (batch if time_major else 1) * n_cell * 2)
    ctx.kernel("logistic_s16")
    ctx.kernel("tanh_s16")
    ctx.kernel("lstm_s8")
    n = batch * n_cell
    reset = (f"for (int32_t td_i = 0; td_i < {n}; ++td_i) {{ {ctx.ptr(h)}[td_i] = {h_zp}; "
             f"{ctx.ptr(c)}[td_i] = 0; }}")
    call = (f"td_lstm_s8({params}, {ctx.ptr(x)} + {{x}}, {ctx.ptr(h)} + {{s}}, {ctx.ptr(c)} + {{s}}, "
            f"{ctx.ptr(y)} + {{y}}, (int16_t *){scratch});")
    _emit_sequences(ctx, call, time_major, batch, steps, n_input, n_cell, reset)
