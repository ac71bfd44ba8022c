"""Multiply-accumulate counts per operator, counted the way MLPerf Tiny reports them.

Only the ops whose cost is a dot product count (convolutions, depthwise convolutions, fully connected,
transposed convolutions, batch matmul, the matrix products inside SVDF and LSTM); element-wise ops, pooling, softmax and bias additions count zero.
With this rule the MLPerf Tiny reference models come out at exactly their published totals (DS-CNN
2,656,768; MobileNetV1-0.25 7,489,664; ResNet-8 12,501,632; FC autoencoder 264,192).
"""

from __future__ import annotations

from tinydeploy.model.graph import Model, Operator


def _prod(values: tuple[int, ...]) -> int:
    result = 1
    for v in values:
        result *= int(v)
    return result


def op_macs(model: Model, op: Operator) -> int:
    """MACs of one operator (0 for ops that are not dot products)."""
    if not op.outputs or op.outputs[0] < 0:
        return 0
    out = model.tensors[op.outputs[0]]
    code = op.opcode
    if code == "CONV_2D":
        cout, kh, kw, cin = model.tensors[op.inputs[1]].shape
        return _prod(out.shape) * kh * kw * cin
    if code == "CONV_3D":
        kd, kh, kw, cin, _cout = model.tensors[op.inputs[1]].shape
        return _prod(out.shape) * kd * kh * kw * cin
    if code == "DEPTHWISE_CONV_2D":
        _, kh, kw, _ = model.tensors[op.inputs[1]].shape
        return _prod(out.shape) * kh * kw
    if code == "FULLY_CONNECTED":
        weights = model.tensors[op.inputs[1]].shape
        return _prod(out.shape) * int(weights[-1])
    if code == "TRANSPOSE_CONV":
        # inputs: output_shape, weights [cout, kh, kw, cin], input
        cout, kh, kw, _cin = model.tensors[op.inputs[1]].shape
        return _prod(model.tensors[op.inputs[2]].shape) * kh * kw * cout
    if code == "BATCH_MATMUL":
        lhs = model.tensors[op.inputs[0]].shape
        adj_x = bool(op.options.get("adj_x", False))
        inner = lhs[-2] if adj_x else lhs[-1]
        return _prod(out.shape) * int(inner)
    if code == "SVDF":
        # inputs: input [batch, features], feature weights [filters, features], time weights [filters, memory]
        x, w_feature, w_time = (model.tensors[i].shape for i in op.inputs[:3])
        if len(x) != 2 or len(w_feature) != 2 or len(w_time) != 2:
            return 0  # not an SVDF any runtime runs (the lowerings say why); no count to give
        return int(x[0]) * int(w_feature[0]) * (int(w_feature[1]) + int(w_time[1]))
    if code == "UNIDIRECTIONAL_SEQUENCE_LSTM":
        return _lstm_macs(model, op)
    return 0


def _lstm_macs(model: Model, op: Operator) -> int:
    """Every step: each gate's input weights [cells, features] and recurrent weights [cells, outputs]
    (inputs 1-4 and 5-8; a CIFG LSTM has no input gate), over batch x time steps."""
    steps = _prod(model.tensors[op.inputs[0]].shape[:-1])
    per_step = 0
    for index in range(1, 9):
        if index < len(op.inputs) and op.inputs[index] >= 0:
            per_step += _prod(model.tensors[op.inputs[index]].shape)
    return steps * per_step


def model_macs(model: Model) -> list[int]:
    """MACs of each operator, in execution order."""
    return [op_macs(model, op) for op in model.operators]


def total_macs(model: Model) -> int:
    return sum(model_macs(model))
