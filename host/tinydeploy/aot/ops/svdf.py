"""SVDF (float32, and TFLM's integer SVDF), as TFLite Micro's reference kernel runs it (svdf_common.cc).

Operands: input [batch, features], feature weights [filters, features], time weights [filters, memory],
bias [filters / rank] (optional in float), the state [batch, memory * filters] as a variable tensor, output
[batch, filters / rank].  The integer path is TFLM's: int8 input, feature weights and output, int32 bias, and
the state and time weights both int16 or both int8 (TFLM picks the kernel by the time weights' type and
reads the state with the same type).  TFLM's integer kernel ignores the fused activation (it only saturates
to int8); so does this lowering, which is what bit-exactness asks.

State: TFLM resets variable tensors (int8 ones to their zero point, every other type to 0) at allocation and
on `reset()`, which the host reference calls after each sample.  The generated code resets the state at the
start of each invoke, before the first op that uses it, so every inference starts from TFLM's reset state
like one verified sample does; several SVDF ops sharing one state tensor within an invoke see each other's
shifts, as in TFLM.

Integer parameters, as TFLM's PrepareSvdf computes them: the two effective scales are float32 products and
quotients of the float32 scales (input x feature weights / state, state x time weights / output), widened to
double and split by QuantizeMultiplier.
"""

from __future__ import annotations

import numpy as np

from tinydeploy.aot.lowering import LoweringContext, lowering, quant_of
from tinydeploy.aot.quant import quantize_multiplier
from tinydeploy.model.graph import Operator, Tensor

INPUT, W_FEATURE, W_TIME, BIAS, STATE = range(5)
FLOAT_ACTIVATIONS = {"NONE": 0, "RELU": 1, "RELU_N1_TO_1": 2, "RELU6": 3, "TANH": 4, "SIGN_BIT": 5}  # TD_SVDF_ACT_*


def _geometry(op: Operator, ctx: LoweringContext) -> tuple[int, int, int, int, int]:
    """(batch, features, filters, memory, rank), checked against every operand as TFLM's Prepare does."""
    if len(op.inputs) != 5:
        raise ctx.unsupported(op, f"{len(op.inputs)} inputs; SVDF takes 5 (input, feature weights, time "
                                  "weights, bias, state)")
    x, wf, wt = ctx.input(op, INPUT), ctx.input(op, W_FEATURE), ctx.input(op, W_TIME)
    state, y = ctx.input(op, STATE), ctx.output(op, 0)
    rank = int(op.options.get("rank", 0))
    if len(x.shape) != 2 or len(wf.shape) != 2 or len(wt.shape) != 2 or len(y.shape) != 2:
        raise ctx.unsupported(op, "input, weights and output must be 2-D")
    batch, features = (int(d) for d in x.shape)
    filters, memory = (int(d) for d in wt.shape)
    if rank < 1 or filters % rank:
        raise ctx.unsupported(op, f"rank {rank} does not divide the {filters} filters")
    if tuple(wf.shape) != (filters, features):
        raise ctx.unsupported(op, f"feature weights {list(wf.shape)}, expected {[filters, features]}")
    if tuple(y.shape) != (batch, filters // rank):
        raise ctx.unsupported(op, f"output {list(y.shape)}, expected {[batch, filters // rank]}")
    if tuple(state.shape) != (batch, memory * filters):
        raise ctx.unsupported(op, f"state {list(state.shape)}, expected {[batch, memory * filters]}")
    if state.is_constant or not state.is_variable:
        raise ctx.unsupported(op, f"state tensor '{state.name}' is not a variable tensor (TFLM requires one)")
    if not wf.is_constant or not wt.is_constant:
        raise ctx.unsupported(op, "the feature and time weights must be constant")
    if ctx.has_input(op, BIAS):
        b = ctx.input(op, BIAS)
        if not b.is_constant or b.size != filters // rank:
            raise ctx.unsupported(op, f"bias '{b.name}' must be {filters // rank} constant values")
    return batch, features, filters, memory, rank


def _first_user(op: Operator, ctx: LoweringContext, state: Tensor) -> bool:
    """Whether no earlier op in the invoke reads this state tensor (the reset goes before the first one)."""
    return not any(other.index < op.index and state.index in other.inputs for other in ctx.model.operators)


@lowering("SVDF")
def lower_svdf(op: Operator, ctx: LoweringContext) -> None:
    batch, features, filters, memory, rank = _geometry(op, ctx)
    x, wf, wt, state, y = (ctx.input(op, INPUT), ctx.input(op, W_FEATURE), ctx.input(op, W_TIME),
                           ctx.input(op, STATE), ctx.output(op, 0))
    geometry = {"batch": batch, "n_input": features, "n_filter": filters, "n_memory": memory, "rank": rank}
    kinds = (x.dtype, wf.dtype, wt.dtype, state.dtype, y.dtype)
    if kinds not in (("float32",) * 5, ("int8", "int8", "int16", "int16", "int8"), ("int8",) * 5):
        raise ctx.unsupported(op, "input/feature weights/time weights/state/output types " + "/".join(kinds) +
                              "; TFLite Micro's SVDF runs float32, or int8 with int16 (or int8) state and time "
                              "weights")
    if y.size == 0:
        return
    if _first_user(op, ctx, state):
        reset = "0.0f" if state.dtype == "float32" else str(quant_of(state)[1] if state.dtype == "int8" else 0)
        ctx.emit(f"for (int32_t td_i = 0; td_i < {state.size}; ++td_i) {ctx.ptr(state)}[td_i] = {reset};")
    if x.dtype == "float32":
        _lower_f32(op, ctx, geometry)
    else:
        _lower_s8(op, ctx, geometry)


def _lower_f32(op: Operator, ctx: LoweringContext, geometry: dict[str, int]) -> None:
    act = op.options.get("fused_activation_function", "NONE")
    if act not in FLOAT_ACTIVATIONS:
        raise ctx.unsupported(op, f"fused activation {act}")
    for i in (W_FEATURE, W_TIME, BIAS):
        if ctx.has_input(op, i) and ctx.input(op, i).dtype != "float32":
            raise ctx.unsupported(op, f"tensor '{ctx.input(op, i).name}' is not float32")
    bias = ctx.ptr(ctx.input(op, BIAS)) if ctx.has_input(op, BIAS) else "NULL"
    params = ctx.struct("params", "td_svdf_f32_params", {
        **geometry, "w_feature": ctx.ptr(ctx.input(op, W_FEATURE)), "w_time": ctx.ptr(ctx.input(op, W_TIME)),
        "bias": bias, "activation": FLOAT_ACTIVATIONS[act]})
    ctx.kernel("svdf")
    _emit_call(op, ctx, f"td_svdf_f32({params}, {{x}}, {{state}}, {{y}});")


def _scale(op: Operator, ctx: LoweringContext, t: Tensor) -> np.float32:
    if t.quant is None or t.quant.scale.size != 1:
        raise ctx.unsupported(op, f"tensor '{t.name}' needs per-tensor quantization")
    return np.float32(t.quant.scale[0])


def _lower_s8(op: Operator, ctx: LoweringContext, geometry: dict[str, int]) -> None:
    x, wf, wt, state = (ctx.input(op, i) for i in (INPUT, W_FEATURE, W_TIME, STATE))
    y = ctx.output(op, 0)
    if not ctx.has_input(op, BIAS) or ctx.input(op, BIAS).dtype != "int32":
        raise ctx.unsupported(op, "the integer SVDF needs an int32 bias (TFLite Micro's Prepare reads its scale)")
    s_in, s_wf, s_wt, s_state, s_out = (_scale(op, ctx, t) for t in (x, wf, wt, state, y))
    # TFLM: float arithmetic on the float32 scales, then widened to double
    feature_mult, feature_shift = quantize_multiplier(float(np.float32(s_in * s_wf) / s_state))
    output_mult, output_shift = quantize_multiplier(float(np.float32(s_state * s_wt) / s_out))
    params = ctx.struct("params", "td_svdf_s8_params", {
        **geometry, "w_feature": ctx.ptr(wf), "w_time": ctx.ptr(wt), "bias": ctx.ptr(ctx.input(op, BIAS)),
        "state_bytes": 2 if state.dtype == "int16" else 1,
        "input_zp": quant_of(x)[1], "state_zp": quant_of(state)[1], "output_zp": quant_of(y)[1],
        "feature_mult": feature_mult, "feature_shift": feature_shift,
        "output_mult": output_mult, "output_shift": output_shift})
    ctx.kernel("svdf")
    _emit_call(op, ctx, f"td_svdf_s8({params}, {{x}}, {{state}}, {{y}});")


def _emit_call(op: Operator, ctx: LoweringContext, call: str) -> None:
    x, state, y = ctx.input(op, INPUT), ctx.input(op, STATE), ctx.output(op, 0)
    ctx.emit(call.format(x=ctx.ptr(x), state=ctx.ptr(state), y=ctx.ptr(y)))
