"""Multiply-accumulate counts per operator, counted the way MLPerf Tiny reports them.

Only the ops whose cost is a dot product count (convolutions, depthwise convolutions, fully connected,
transposed convolutions, batch matmul); element-wise ops, pooling, softmax and bias additions count zero.
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
    return 0


def model_macs(model: Model) -> list[int]:
    """MACs of each operator, in execution order."""
    return [op_macs(model, op) for op in model.operators]


def total_macs(model: Model) -> int:
    return sum(model_macs(model))
