"""Write small .tflite models byte by byte: any op, any option, any quantization, in milliseconds.

The TFLite converter takes a second or more per model and only produces the quantization its calibration
finds; property tests want hundreds of models with arbitrary scales, zero points, shapes and options.  This
writer builds the flatbuffer directly (schema facts from tinydeploy.model.schema), so TFLM's interpreter and
our parser read it like converter output.

    from aotutil_builder import TensorSpec, OpSpec, write_tflite
    path = write_tflite(
        tensors=[TensorSpec((1, 8, 8, 3), "int8", scale=0.05, zero_point=-3),            # 0: input
                 TensorSpec((4, 3, 3, 3), "int8", data=w, scale=ws, axis=0),              # 1: filter, per channel
                 TensorSpec((4,), "int32", data=b, scale=0.05 * ws),                      # 2: bias
                 TensorSpec((1, 8, 8, 4), "int8", scale=0.1, zero_point=5)],              # 3: output
        ops=[OpSpec("CONV_2D", [0, 1, 2], [3], {"padding": "SAME", "stride_w": 1, "stride_h": 1})],
        inputs=[0], outputs=[3])

Options are the snake_case names tinydeploy.model.graph decodes (enums by name: "SAME", "RELU6", ...);
omitted fields take the schema default.  Files are cached by content hash.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import flatbuffers
import numpy as np

from aotutil import cache_root
from tinydeploy.model.schema import (
    ACTIVATIONS,
    BUILTIN_OPS,
    OPTION_FIELDS,
    OPTION_TYPE_CODES,
    PADDINGS,
    TENSOR_TYPES,
)

OPTIONS_OF_OP = {
    "CONV_2D": "Conv2DOptions",
    "DEPTHWISE_CONV_2D": "DepthwiseConv2DOptions",
    "AVERAGE_POOL_2D": "Pool2DOptions",
    "MAX_POOL_2D": "Pool2DOptions",
    "FULLY_CONNECTED": "FullyConnectedOptions",
    "SOFTMAX": "SoftmaxOptions",
    "CONCATENATION": "ConcatenationOptions",
    "ADD": "AddOptions",
    "SUB": "SubOptions",
    "MUL": "MulOptions",
    "DIV": "DivOptions",
    "RESHAPE": "ReshapeOptions",
    "PAD": "PadOptions",
    "TRANSPOSE": "TransposeOptions",
    "MEAN": "ReducerOptions",
    "REDUCE_MAX": "ReducerOptions", "REDUCE_MIN": "ReducerOptions", "SUM": "ReducerOptions",
    "SQUEEZE": "SqueezeOptions",
    "STRIDED_SLICE": "StridedSliceOptions",
    "PACK": "PackOptions",
    "LEAKY_RELU": "LeakyReluOptions",
    "GATHER": "GatherOptions",
    "SPLIT": "SplitOptions",
    "SPLIT_V": "SplitVOptions",
    "UNPACK": "UnpackOptions",
    "SPACE_TO_DEPTH": "SpaceToDepthOptions",
    "DEPTH_TO_SPACE": "DepthToSpaceOptions",
    "BATCH_MATMUL": "BatchMatMulOptions",
    "TRANSPOSE_CONV": "TransposeConvOptions",
    "RESIZE_BILINEAR": "ResizeBilinearOptions",
    "RESIZE_NEAREST_NEIGHBOR": "ResizeNearestNeighborOptions",
    "L2_POOL_2D": "Pool2DOptions",
    "SVDF": "SVDFOptions",
    "MIRROR_PAD": "MirrorPadOptions",
    "CUMSUM": "CumsumOptions",
}

_TYPE_CODES = {name: code for code, name in TENSOR_TYPES.items()}
_OP_CODES = {name: code for code, name in BUILTIN_OPS.items()}
_ACT_CODES = {name: code for code, name in ACTIVATIONS.items()}
_PAD_CODES = {name: code for code, name in PADDINGS.items()}


@dataclass
class TensorSpec:
    shape: Sequence[int]
    dtype: str  # "int8", "int32", "float32", ...
    data: np.ndarray | None = None  # constant contents
    scale: float | Sequence[float] | None = None  # None: not quantized
    zero_point: int | Sequence[int] = 0
    axis: int = 0  # quantized dimension for per-channel scales
    name: str = ""
    is_variable: bool = False  # a variable tensor (SVDF/LSTM state): TFLM keeps and resets it


@dataclass
class OpSpec:
    opcode: str
    inputs: list[int]
    outputs: list[int]
    options: dict[str, Any] = field(default_factory=dict)
    version: int = 1


def build_tflite(tensors: Sequence[TensorSpec], ops: Sequence[OpSpec], inputs: Sequence[int],
                 outputs: Sequence[int]) -> bytes:
    b = flatbuffers.Builder(1024)

    def int_vector(values: Sequence[int], dtype: Any = np.int32) -> int:
        return b.CreateNumpyVector(np.asarray(list(values), dtype=dtype))

    # buffers: 0 is the empty sentinel, then one per constant tensor
    buffer_data: list[bytes | None] = [None]
    tensor_buffer: list[int] = []
    for t in tensors:
        if t.data is None:
            tensor_buffer.append(0)
        else:
            arr = np.ascontiguousarray(np.asarray(t.data, dtype=np.dtype(t.dtype)))
            buffer_data.append(arr.tobytes())
            tensor_buffer.append(len(buffer_data) - 1)

    buffer_offsets = []
    for data in buffer_data:
        vec = None
        if data:
            b.StartVector(1, len(data), 16)  # aligned so that int32/float data is aligned in the file
            b.head = b.head - len(data)
            b.Bytes[b.head:b.head + len(data)] = data
            b.vectorNumElems = len(data)
            vec = b.EndVector()
        b.StartObject(3)
        if vec is not None:
            b.PrependUOffsetTRelativeSlot(0, vec, 0)
        buffer_offsets.append(b.EndObject())

    tensor_offsets = []
    for i, t in enumerate(tensors):
        name = b.CreateString(t.name or f"t{i}")
        shape = int_vector(t.shape)
        quant = None
        if t.scale is not None:
            scales = np.atleast_1d(np.asarray(t.scale, dtype=np.float32))
            zps = np.atleast_1d(np.asarray(t.zero_point, dtype=np.int64))
            if zps.size == 1 and scales.size > 1:
                zps = np.repeat(zps, scales.size)
            scale_vec = b.CreateNumpyVector(scales)
            zp_vec = b.CreateNumpyVector(zps)
            b.StartObject(7)
            b.PrependUOffsetTRelativeSlot(2, scale_vec, 0)
            b.PrependUOffsetTRelativeSlot(3, zp_vec, 0)
            b.PrependInt32Slot(6, t.axis, 0)
            quant = b.EndObject()
        b.StartObject(8)
        b.PrependUOffsetTRelativeSlot(0, shape, 0)
        b.PrependInt8Slot(1, _TYPE_CODES[t.dtype], 0)
        b.PrependUint32Slot(2, tensor_buffer[i], 0)
        b.PrependUOffsetTRelativeSlot(3, name, 0)
        if quant is not None:
            b.PrependUOffsetTRelativeSlot(4, quant, 0)
        if t.is_variable:
            b.PrependBoolSlot(5, True, False)
        tensor_offsets.append(b.EndObject())

    opcode_names: list[str] = []
    for op in ops:
        if op.opcode not in opcode_names:
            opcode_names.append(op.opcode)

    op_offsets = []
    for op in ops:
        kind = OPTIONS_OF_OP.get(op.opcode)
        opts = _options_table(b, kind, op.options) if kind else None
        ins = int_vector(op.inputs)
        outs = int_vector(op.outputs)
        b.StartObject(9)
        b.PrependUint32Slot(0, opcode_names.index(op.opcode), 0)
        b.PrependUOffsetTRelativeSlot(1, ins, 0)
        b.PrependUOffsetTRelativeSlot(2, outs, 0)
        if opts is not None:
            b.PrependUint8Slot(3, OPTION_TYPE_CODES[kind], 0)
            b.PrependUOffsetTRelativeSlot(4, opts, 0)
        op_offsets.append(b.EndObject())

    def table_vector(offsets: list[int]) -> int:
        b.StartVector(4, len(offsets), 4)
        for off in reversed(offsets):
            b.PrependUOffsetTRelative(off)
        return b.EndVector()

    tensors_vec = table_vector(tensor_offsets)
    ops_vec = table_vector(op_offsets)
    in_vec, out_vec = int_vector(inputs), int_vector(outputs)
    sg_name = b.CreateString("main")
    b.StartObject(5)
    b.PrependUOffsetTRelativeSlot(0, tensors_vec, 0)
    b.PrependUOffsetTRelativeSlot(1, in_vec, 0)
    b.PrependUOffsetTRelativeSlot(2, out_vec, 0)
    b.PrependUOffsetTRelativeSlot(3, ops_vec, 0)
    b.PrependUOffsetTRelativeSlot(4, sg_name, 0)
    subgraph = b.EndObject()

    code_offsets = []
    for name in opcode_names:
        code = _OP_CODES[name]
        b.StartObject(4)
        b.PrependInt8Slot(0, min(code, 127), 0)
        b.PrependInt32Slot(2, next(o.version for o in ops if o.opcode == name), 1)
        b.PrependInt32Slot(3, code, 0)
        code_offsets.append(b.EndObject())

    codes_vec = table_vector(code_offsets)
    sg_vec = table_vector([subgraph])
    buffers_vec = table_vector(buffer_offsets)
    desc = b.CreateString("aotutil_builder")
    b.StartObject(8)
    b.PrependUint32Slot(0, 3, 0)
    b.PrependUOffsetTRelativeSlot(1, codes_vec, 0)
    b.PrependUOffsetTRelativeSlot(2, sg_vec, 0)
    b.PrependUOffsetTRelativeSlot(3, desc, 0)
    b.PrependUOffsetTRelativeSlot(4, buffers_vec, 0)
    root = b.EndObject()
    b.Finish(root, file_identifier=b"TFL3")
    return bytes(b.Output())


def _options_table(b: flatbuffers.Builder, kind: str, options: dict[str, Any]) -> int:
    fields = OPTION_FIELDS[kind]
    known = {f[0] for f in fields}
    unknown = set(options) - known
    if unknown:
        raise ValueError(f"{kind} has no fields {sorted(unknown)} (known: {sorted(known)})")
    vectors = {}
    for name, _slot, typ, _default in fields:
        if typ.startswith("[") and name in options:
            vectors[name] = b.CreateNumpyVector(np.asarray(options[name], dtype=np.dtype(typ[1:-1])))
    b.StartObject(max((f[1] for f in fields), default=-1) + 1)
    for name, slot, typ, default in fields:
        if name not in options:
            continue
        value = options[name]
        if typ.startswith("["):
            b.PrependUOffsetTRelativeSlot(slot, vectors[name], 0)
            continue
        if name == "fused_activation_function" and isinstance(value, str):
            value = _ACT_CODES[value]
        elif name == "padding" and isinstance(value, str):
            value = _PAD_CODES[value]
        prepend = {
            "int8": b.PrependInt8Slot, "uint8": b.PrependUint8Slot, "bool": b.PrependBoolSlot,
            "int16": b.PrependInt16Slot, "int32": b.PrependInt32Slot, "uint32": b.PrependUint32Slot,
            "int64": b.PrependInt64Slot, "float32": b.PrependFloat32Slot,
        }[typ]
        # default None: always write the field, even when it equals the schema default
        prepend(slot, value, None)
    return b.EndObject()


def write_tflite(tensors: Sequence[TensorSpec], ops: Sequence[OpSpec], inputs: Sequence[int],
                 outputs: Sequence[int]) -> Path:
    """build_tflite, written under the test cache (by content hash); returns the path."""
    data = build_tflite(tensors, ops, inputs, outputs)
    path = cache_root() / "built" / f"{hashlib.sha256(data).hexdigest()[:20]}.tflite"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    return path


class ModelCases:
    """Independent one-op cases side by side in one model (one build and one TFLM run check them all).
    Test files subclass it with the `op()` their cases need."""

    def __init__(self) -> None:
        self.tensors: list[TensorSpec] = []
        self.ops: list[OpSpec] = []
        self.inputs: list[int] = []
        self.outputs: list[int] = []

    def tensor(self, spec: TensorSpec) -> int:
        self.tensors.append(spec)
        return len(self.tensors) - 1

    def activation(self, shape: Sequence[int], dtype: str, q: tuple[float, int] | None = None, name: str = "") -> int:
        scale, zp = q if q is not None else (None, 0)
        return self.tensor(TensorSpec(tuple(int(d) for d in shape), dtype, scale=scale, zero_point=zp, name=name))

    def const(self, values: Any, dtype: str = "int32") -> int:
        arr = np.asarray(values).astype(dtype)
        return self.tensor(TensorSpec(arr.shape, dtype, data=arr))

    def write(self) -> Path:
        return write_tflite(self.tensors, self.ops, self.inputs, self.outputs)
