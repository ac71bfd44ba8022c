"""What the pinned TFLite Micro supports: builtin op -> MicroMutableOpResolver method and verified version.

Facts, and where they come from:

* Which ops exist is measured, not typed: `registered_ops.json` lists every builtin and custom op that TFLM's
  own interpreter (PyPI `tflite-micro`) registers, written by `python -m tinydeploy.tflm.probe_registered`
  (tests/test_tflm_registered.py checks it still matches the installed package).
* `resolver_method` is the `MicroMutableOpResolver::AddXxx()` method that registers the op, as named in
  TFLM's tensorflow/lite/micro/micro_mutable_op_resolver.h (the Arduino library's copy has the same names).
* `max_version` is the highest op version that TFLM's own interpreter (PyPI `tflite-micro`, the same C++ code)
  allocated and invoked in `python -m tinydeploy.tflm.probe_ops`, which converts small Keras models in float32,
  int8 and int16x8 and runs them.  TFLM's resolver never checks versions (it looks kernels up by builtin code);
  a version adds a feature (int16 activations, per-channel weights, ...) that the kernel accepts or rejects
  in Prepare.  `None` means no probe model produced the op, so no version has been verified: preflight then
  relies on the host-interpreter run (arena measurement), which executes the kernels' Prepare for real.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TflmOp:
    resolver_method: str  # "AddConv2D"
    max_version: int | None  # highest version verified with TFLM's interpreter; None = not probed


# Versions measured by probe_ops.py against tflite-micro 0.dev20261023 (see module docstring).
_PROBED: dict[str, int] = {
    "ADD": 2,
    "AVERAGE_POOL_2D": 2,
    "CONCATENATION": 2,
    "CONV_2D": 3,
    "DEPTHWISE_CONV_2D": 3,
    "FULLY_CONNECTED": 4,
    "HARD_SWISH": 1,
    "LEAKY_RELU": 2,
    "MAXIMUM": 2,
    "LOGISTIC": 2,
    "MAX_POOL_2D": 2,
    "MEAN": 2,
    "MUL": 2,
    "PAD": 2,
    "QUANTIZE": 2,
    "RELU": 2,
    "RESHAPE": 1,
    "SOFTMAX": 2,
    "SUB": 2,
    "TANH": 2,
    "TRANSPOSE_CONV": 3,
}

# builtin name -> resolver method, from micro_mutable_op_resolver.h (names only: the set of ops is measured).
_METHODS: dict[str, str] = {
    "REVERSE_V2": "AddReverseV2",
    "REDUCE_MIN": "AddReduceMin",
    "REDUCE_ALL": "AddReduceAll",
    "EMBEDDING_LOOKUP": "AddEmbeddingLookup",
    "DYNAMIC_UPDATE_SLICE": "AddDynamicUpdateSlice",
    "ABS": "AddAbs",
    "ADD": "AddAdd",
    "ADD_N": "AddAddN",
    "ARG_MAX": "AddArgMax",
    "ARG_MIN": "AddArgMin",
    "ASSIGN_VARIABLE": "AddAssignVariable",
    "AVERAGE_POOL_2D": "AddAveragePool2D",
    "BATCH_MATMUL": "AddBatchMatMul",
    "BATCH_TO_SPACE_ND": "AddBatchToSpaceNd",
    "BROADCAST_ARGS": "AddBroadcastArgs",
    "BROADCAST_TO": "AddBroadcastTo",
    "CALL_ONCE": "AddCallOnce",
    "CAST": "AddCast",
    "CEIL": "AddCeil",
    "CONCATENATION": "AddConcatenation",
    "CONV_2D": "AddConv2D",
    "COS": "AddCos",
    "CUMSUM": "AddCumSum",
    "DEPTH_TO_SPACE": "AddDepthToSpace",
    "DEPTHWISE_CONV_2D": "AddDepthwiseConv2D",
    "DEQUANTIZE": "AddDequantize",
    "DIV": "AddDiv",
    "ELU": "AddElu",
    "EQUAL": "AddEqual",
    "EXP": "AddExp",
    "EXPAND_DIMS": "AddExpandDims",
    "FILL": "AddFill",
    "FLOOR": "AddFloor",
    "FLOOR_DIV": "AddFloorDiv",
    "FLOOR_MOD": "AddFloorMod",
    "FULLY_CONNECTED": "AddFullyConnected",
    "GATHER": "AddGather",
    "GATHER_ND": "AddGatherNd",
    "GREATER": "AddGreater",
    "GREATER_EQUAL": "AddGreaterEqual",
    "HARD_SWISH": "AddHardSwish",
    "IF": "AddIf",
    "L2_NORMALIZATION": "AddL2Normalization",
    "L2_POOL_2D": "AddL2Pool2D",
    "LEAKY_RELU": "AddLeakyRelu",
    "LESS": "AddLess",
    "LESS_EQUAL": "AddLessEqual",
    "LOG": "AddLog",
    "LOGICAL_AND": "AddLogicalAnd",
    "LOGICAL_NOT": "AddLogicalNot",
    "LOGICAL_OR": "AddLogicalOr",
    "LOGISTIC": "AddLogistic",
    "LOG_SOFTMAX": "AddLogSoftmax",
    "MAXIMUM": "AddMaximum",
    "MAX_POOL_2D": "AddMaxPool2D",
    "MEAN": "AddMean",
    "MINIMUM": "AddMinimum",
    "MIRROR_PAD": "AddMirrorPad",
    "MUL": "AddMul",
    "NEG": "AddNeg",
    "NOT_EQUAL": "AddNotEqual",
    "PACK": "AddPack",
    "PAD": "AddPad",
    "PADV2": "AddPadV2",
    "PRELU": "AddPrelu",
    "QUANTIZE": "AddQuantize",
    "READ_VARIABLE": "AddReadVariable",
    "REDUCE_MAX": "AddReduceMax",
    "RELU": "AddRelu",
    "RELU6": "AddRelu6",
    "RESHAPE": "AddReshape",
    "RESIZE_BILINEAR": "AddResizeBilinear",
    "RESIZE_NEAREST_NEIGHBOR": "AddResizeNearestNeighbor",
    "ROUND": "AddRound",
    "RSQRT": "AddRsqrt",
    "SELECT_V2": "AddSelectV2",
    "SHAPE": "AddShape",
    "SIN": "AddSin",
    "SLICE": "AddSlice",
    "SOFTMAX": "AddSoftmax",
    "SPACE_TO_BATCH_ND": "AddSpaceToBatchNd",
    "SPACE_TO_DEPTH": "AddSpaceToDepth",
    "SPLIT": "AddSplit",
    "SPLIT_V": "AddSplitV",
    "SQRT": "AddSqrt",
    "SQUARE": "AddSquare",
    "SQUARED_DIFFERENCE": "AddSquaredDifference",
    "SQUEEZE": "AddSqueeze",
    "STRIDED_SLICE": "AddStridedSlice",
    "SUB": "AddSub",
    "SUM": "AddSum",
    "SVDF": "AddSvdf",
    "TANH": "AddTanh",
    "TRANSPOSE": "AddTranspose",
    "TRANSPOSE_CONV": "AddTransposeConv",
    "UNIDIRECTIONAL_SEQUENCE_LSTM": "AddUnidirectionalSequenceLSTM",
    "UNPACK": "AddUnpack",
    "VAR_HANDLE": "AddVarHandle",
    "WHILE": "AddWhile",
    "ZEROS_LIKE": "AddZerosLike",
}

# Custom ops TFLM ships, by custom code -> resolver method.
_CUSTOM_METHODS: dict[str, str] = {
    "TFLite_Detection_PostProcess": "AddDetectionPostprocess",
    "CIRCULAR_BUFFER": "AddCircularBuffer",
}

REGISTERED_FILE = Path(__file__).with_name("registered_ops.json")


def _registered() -> dict[str, list[str]]:
    return json.loads(REGISTERED_FILE.read_text(encoding="utf-8"))


_REGISTERED = _registered()
# An op TFLM registers but whose resolver method we cannot name cannot be added by the sketch: it is left out
# (tests/test_tflm_registered.py fails when that happens, so the name gets added above).
TFLM_OPS: dict[str, TflmOp] = {name: TflmOp(_METHODS[name], _PROBED.get(name))
                               for name in _REGISTERED["builtin"] if name in _METHODS}
TFLM_CUSTOM_OPS: dict[str, str] = {code: _CUSTOM_METHODS[code] for code in _REGISTERED["custom"]
                                   if code in _CUSTOM_METHODS}
UNNAMED_REGISTERED = sorted(set(_REGISTERED["builtin"]) - set(_METHODS))


def resolver_method(opcode: str) -> str | None:
    """`AddXxx` for a builtin name or a "CUSTOM:<code>" opcode; None when the pinned TFLM lacks it."""
    if opcode.startswith("CUSTOM:"):
        return TFLM_CUSTOM_OPS.get(opcode.split(":", 1)[1])
    op = TFLM_OPS.get(opcode)
    return op.resolver_method if op else None
