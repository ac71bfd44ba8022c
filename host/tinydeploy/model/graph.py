"""Read a `.tflite` flatbuffer into a small graph IR: tensors, operators, options, quantization.

This is the one parser every later stage uses (inspect, the memory planner, the aot and tflm renderers,
the verify step's model hash).  It reads the flatbuffer directly with the `flatbuffers` runtime so that it
needs neither TensorFlow nor LiteRT, and it checks what it reads so that a truncated or foreign file gives
a clear error instead of garbage.
"""

from __future__ import annotations

import hashlib
import math
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Collection

import numpy as np
from flatbuffers import number_types as N
from flatbuffers.table import Table

from tinydeploy.errors import UserError
from tinydeploy.model.schema import (
    ACTIVATIONS,
    BUILTIN_OPS,
    OPTION_FIELDS,
    OPTION_TYPE_CODES,
    PACKED_BITS,
    PADDINGS,
    TENSOR_TYPES,
    TYPE_ITEMSIZE,
    UNSIZED_TYPES,
)
from tinydeploy.model.validate import validate_model

FILE_IDENTIFIER = b"TFL3"

# BuiltinOptions union type code -> the options table it names.
_OPTION_KIND_BY_TYPE: dict[int, str] = {code: kind for kind, code in OPTION_TYPE_CODES.items()}


@dataclass(frozen=True)
class Quantization:
    """Affine quantization: real = scale * (q - zero_point), per tensor (len 1) or per channel along `axis`."""

    scale: np.ndarray  # float32
    zero_point: np.ndarray  # int64
    axis: int = 0

    @property
    def per_channel(self) -> bool:
        return self.scale.size > 1


@dataclass
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str  # TFLite type name: "int8", "float32", ...
    buffer: int
    data: np.ndarray | None  # constant contents (weights, biases, shape operands), else None
    quant: Quantization | None
    is_variable: bool = False
    shape_signature: tuple[int, ...] | None = None

    @property
    def is_constant(self) -> bool:
        return self.data is not None

    @property
    def numpy_dtype(self) -> np.dtype:
        return np.dtype(NUMPY_DTYPES.get(self.dtype, _STORAGE_BY_ITEMSIZE[TYPE_ITEMSIZE.get(self.dtype, 1)]))

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1

    @property
    def nbytes(self) -> int:
        return self.size * TYPE_ITEMSIZE.get(self.dtype, 1)

    def describe(self) -> str:
        """How messages name a tensor: its index and name."""
        return f"tensor #{self.index} '{self.name}'"


@dataclass
class Operator:
    index: int
    opcode: str  # builtin name ("CONV_2D"), or "CUSTOM:<code>" for custom ops
    version: int
    inputs: list[int]  # tensor indices; -1 marks an omitted optional input
    outputs: list[int]
    options: dict[str, Any] = field(default_factory=dict)
    builtin_code: int = -1

    @property
    def is_custom(self) -> bool:
        return self.opcode.startswith("CUSTOM:")

    def describe(self, model: "Model") -> str:
        """A name a user recognises: the op, its index and the layer its first output belongs to."""
        out = model.tensors[self.outputs[0]].name if self.outputs else "?"
        return f"{self.opcode} (op #{self.index}, output tensor '{out}')"


@dataclass
class Model:
    path: Path | None
    sha256: str
    version: int
    description: str
    tensors: list[Tensor]
    operators: list[Operator]
    inputs: list[int]
    outputs: list[int]
    num_subgraphs: int
    raw: bytes = field(repr=False)

    @property
    def input_tensors(self) -> list[Tensor]:
        return [self.tensors[i] for i in self.inputs]

    @property
    def output_tensors(self) -> list[Tensor]:
        return [self.tensors[i] for i in self.outputs]

    @property
    def op_names(self) -> list[str]:
        """Distinct op names in first-use order."""
        seen: dict[str, None] = {}
        for op in self.operators:
            seen.setdefault(op.opcode, None)
        return list(seen)

    def producers(self, skip: Collection[int] = ()) -> dict[int, Operator]:
        """tensor index -> the operator that writes it (operators whose index is in `skip`, e.g. folded away
        at generation time, left out)."""
        return {t: op for op in self.operators if op.index not in skip for t in op.outputs if t >= 0}

    def consumers(self, skip: Collection[int] = ()) -> dict[int, list[int]]:
        """tensor index -> indices of the operators that read it (those in `skip` left out)."""
        result: dict[int, list[int]] = {}
        for op in self.operators:
            if op.index in skip:
                continue
            for t in op.inputs:
                if t >= 0:
                    result.setdefault(t, []).append(op.index)
        return result


NUMPY_DTYPES = {
    "float32": "float32",
    "float16": "float16",
    "float64": "float64",
    "int32": "int32",
    "uint8": "uint8",
    "int64": "int64",
    "bool": "bool",
    "int16": "int16",
    "int8": "int8",
    "uint64": "uint64",
    "uint32": "uint32",
    "uint16": "uint16",
    "int4": "int8",  # packed two per byte in buffers; unpacked here is not supported
    "complex64": "complex64",
    "complex128": "complex128",
}
# Types numpy has no dtype for are stored as unsigned integers of their element size.
_STORAGE_BY_ITEMSIZE = {1: "uint8", 2: "uint16", 4: "uint32", 8: "uint64", 16: "complex128"}


# --- flatbuffer access -------------------------------------------------------------------------------


def _printable(text: str) -> str:
    """A name from the file as messages and generated C can carry it: control characters (a corrupt length
    makes a name run into binary data, newlines included) escaped, so an error stays one line and a C string
    literal or comment stays closed."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"
                   for c in text)


class _Reader:
    """Typed field access on a flatbuffers Table, by field index (vtable slot = 4 + 2 * index)."""

    def __init__(self, buf: bytes, pos: int) -> None:
        self.tab = Table(buf, pos)

    def _off(self, idx: int) -> int:
        return self.tab.Offset(4 + 2 * idx)

    def scalar(self, idx: int, flags: Any, default: Any = 0) -> Any:
        o = self._off(idx)
        return self.tab.Get(flags, o + self.tab.Pos) if o else default

    def string(self, idx: int, default: str = "") -> str:
        o = self._off(idx)
        return _printable(self.tab.String(o + self.tab.Pos).decode("utf-8", "replace")) if o else default

    def table(self, idx: int) -> "_Reader | None":
        o = self._off(idx)
        if not o:
            return None
        return _Reader(self.tab.Bytes, self.tab.Indirect(o + self.tab.Pos))

    def vector_len(self, idx: int) -> int:
        o = self._off(idx)
        return self.tab.VectorLen(o) if o else 0

    def tables(self, idx: int) -> list["_Reader"]:
        o = self._off(idx)
        if not o:
            return []
        start = self.tab.Vector(o)
        return [
            _Reader(self.tab.Bytes, self.tab.Indirect(start + 4 * i)) for i in range(self.tab.VectorLen(o))
        ]

    def numpy(self, idx: int, flags: Any) -> np.ndarray | None:
        o = self._off(idx)
        if not o:
            return None
        return self.tab.GetVectorAsNumpy(flags, o)


_SCALAR_FLAGS: dict[str, Any] = {
    "int8": N.Int8Flags,
    "uint8": N.Uint8Flags,
    "bool": N.BoolFlags,
    "int16": N.Int16Flags,
    "int32": N.Int32Flags,
    "uint32": N.Uint32Flags,
    "int64": N.Int64Flags,
    "uint64": N.Uint64Flags,
    "float32": N.Float32Flags,
}


def _read_options(opts: _Reader, kind: str) -> dict[str, Any]:
    """Decode one builtin-options table into a dict with snake_case keys and enums as names."""
    result: dict[str, Any] = {}
    for name, idx, typ, default in OPTION_FIELDS[kind]:
        if typ.startswith("[") and typ.endswith("]"):
            arr = opts.numpy(idx, _SCALAR_FLAGS[typ[1:-1]])
            result[name] = [] if arr is None else [int(v) for v in arr]
            continue
        if typ == "string":
            result[name] = opts.string(idx, str(default))
            continue
        value = opts.scalar(idx, _SCALAR_FLAGS[typ], default)
        if name in ("fused_activation_function",):
            value = ACTIVATIONS.get(value, f"UNKNOWN_{value}")
        elif name == "padding":
            value = PADDINGS.get(value, f"UNKNOWN_{value}")
        elif typ == "bool":
            value = bool(value)
        elif typ == "float32":
            value = float(value)
        else:
            value = int(value)
        result[name] = value
    return result


def _tensor_data(model: _Reader, buffers: list[_Reader], raw: bytes, index: int, dtype: str,
                 shape: tuple[int, ...], where: str) -> np.ndarray | None:
    if index >= len(buffers) and index > 0:
        raise UserError(f"{where}: names buffer {index}, but the model has {len(buffers)} buffers; "
                        "the file is corrupt")
    if index <= 0:
        return None
    buf = buffers[index]
    data = buf.numpy(0, N.Uint8Flags)
    if data is None or data.size == 0:
        offset = buf.scalar(1, N.Uint64Flags, 0)
        size = buf.scalar(2, N.Uint64Flags, 0)
        if offset <= 1 or size == 0:  # offset 1 is the converter's "not yet placed" marker
            return None
        if offset + size > len(raw):
            raise UserError(f"{where}: buffer {index} lies past the end of the file; the file is truncated")
        data = np.frombuffer(raw, dtype=np.uint8, count=size, offset=offset)
    if dtype in UNSIZED_TYPES:
        return None  # strings and handles: no fixed size per element, nothing here reads their contents
    if any(d < 0 for d in shape):
        return None  # reported by the validation pass with the tensor's name
    count = math.prod(shape)
    if dtype in PACKED_BITS:  # packed sub-byte weights: left to the runtimes that support them
        expected_bytes = (count * PACKED_BITS[dtype] + 7) // 8
        if data.size != expected_bytes:
            raise UserError(f"{where}: constant buffer {index} has {data.size} bytes, but shape {list(shape)} of "
                            f"packed {dtype} needs {expected_bytes}; the file is corrupt")
        return None
    np_dtype = np.dtype(NUMPY_DTYPES.get(dtype, _STORAGE_BY_ITEMSIZE[TYPE_ITEMSIZE.get(dtype, 1)]))
    if data.size != count * np_dtype.itemsize:
        raise UserError(f"{where}: constant buffer {index} has {data.size} bytes, but shape {list(shape)} of "
                        f"{dtype} needs {count * np_dtype.itemsize}; the file is corrupt or was edited")
    return np.frombuffer(data.tobytes(), dtype=np_dtype).reshape(shape)


def parse_model(raw: bytes, path: Path | None = None) -> Model:
    """Parse flatbuffer bytes; raises UserError naming the file when they are not a usable TFLite model."""
    where = str(path) if path else "<model bytes>"
    if len(raw) < 8:
        raise UserError(f"{where}: {len(raw)} bytes is too short to be a .tflite model")
    if raw[4:8] != FILE_IDENTIFIER:
        raise UserError(
            f"{where}: not a TFLite flatbuffer (file identifier {raw[4:8]!r}, expected {FILE_IDENTIFIER!r})",
            hint="convert the model first: deploy convert MODEL --mode int8 ...",
        )
    try:
        return _parse(raw, path, where)
    except UserError:
        raise
    except (IndexError, ValueError, OverflowError, UnicodeDecodeError, TypeError, struct.error) as err:
        raise UserError(f"{where}: the flatbuffer is corrupt or truncated ({err})") from None


def parse_subgraph(model: Model, index: int) -> Model:
    """Subgraph `index` of an already loaded model as a Model of its own (e.g. the initialization subgraph a
    CALL_ONCE runs).  Not validated like the main subgraph: its caller checks the few ops it accepts."""
    where = str(model.path) if model.path else "<model bytes>"
    if not 0 <= index < model.num_subgraphs:
        raise UserError(f"{where}: subgraph {index} does not exist (the model has {model.num_subgraphs})")
    try:
        return _parse(model.raw, model.path, where, index)
    except (IndexError, ValueError, OverflowError, UnicodeDecodeError, TypeError, struct.error) as err:
        raise UserError(f"{where}: subgraph {index} is corrupt or truncated ({err})") from None


def _parse(raw: bytes, path: Path | None, where: str, subgraph: int = 0) -> Model:
    buf = bytearray(raw)
    root = _Reader(buf, N.UOffsetTFlags.py_type(int.from_bytes(raw[0:4], "little")))
    version = root.scalar(0, N.Uint32Flags, 0)
    opcodes = []
    for oc in root.tables(1):
        deprecated = oc.scalar(0, N.Int8Flags, 0)
        code = max(int(deprecated), int(oc.scalar(3, N.Int32Flags, 0)))
        name = BUILTIN_OPS.get(code, f"BUILTIN_{code}")
        if name == "CUSTOM":
            name = "CUSTOM:" + oc.string(1, "?")
        opcodes.append((name, int(oc.scalar(2, N.Int32Flags, 1)), code))
    subgraphs = root.tables(2)
    if not subgraphs:
        raise UserError(f"{where}: the model has no subgraph")
    buffers = root.tables(4)
    sg = subgraphs[subgraph]

    tensors: list[Tensor] = []
    for i, t in enumerate(sg.tables(0)):
        shape_arr = t.numpy(0, N.Int32Flags)
        shape = tuple(int(v) for v in shape_arr) if shape_arr is not None else ()
        type_code = int(t.scalar(1, N.Int8Flags, 0))
        name = t.string(3, f"tensor_{i}")
        if type_code not in TENSOR_TYPES:
            raise UserError(f"{where}: tensor #{i} '{name}' has tensor type code {type_code}, which TFLite does not "
                            "define; the file is corrupt or from a newer TFLite than tinydeploy knows")
        dtype = TENSOR_TYPES[type_code]
        quant = None
        q = t.table(4)
        if q is not None:
            scale = q.numpy(2, N.Float32Flags)
            zp = q.numpy(3, N.Int64Flags)
            if scale is not None and scale.size:
                zp_arr = zp.astype(np.int64) if zp is not None and zp.size else np.zeros(scale.size, np.int64)
                quant = Quantization(scale.astype(np.float32), zp_arr, int(q.scalar(6, N.Int32Flags, 0)))
        sig = t.numpy(7, N.Int32Flags)
        buffer_index = int(t.scalar(2, N.Uint32Flags, 0))
        data = _tensor_data(root, buffers, raw, buffer_index, dtype, shape, f"{where}: tensor #{i} '{name}'")
        tensors.append(
            Tensor(
                index=i,
                name=name,
                shape=shape,
                dtype=dtype,
                buffer=buffer_index,
                data=data,
                quant=quant,
                is_variable=bool(t.scalar(5, N.BoolFlags, False)),
                shape_signature=tuple(int(v) for v in sig) if sig is not None else None,
            )
        )

    operators: list[Operator] = []
    for i, o in enumerate(sg.tables(3)):
        opcode_index = int(o.scalar(0, N.Uint32Flags, 0))
        if opcode_index >= len(opcodes):
            raise UserError(f"{where}: operator {i} names opcode {opcode_index}, which does not exist")
        name, op_version, code = opcodes[opcode_index]
        ins = o.numpy(1, N.Int32Flags)
        outs = o.numpy(2, N.Int32Flags)
        options: dict[str, Any] = {}
        opt_type = int(o.scalar(3, N.Uint8Flags, 0))
        kind = _OPTION_KIND_BY_TYPE.get(opt_type)
        if kind is not None:
            table = o.table(4)
            if table is not None:
                options = _read_options(table, kind)
        operators.append(
            Operator(
                index=i,
                opcode=name,
                version=op_version,
                inputs=[int(v) for v in ins] if ins is not None else [],
                outputs=[int(v) for v in outs] if outs is not None else [],
                options=options,
                builtin_code=code,
            )
        )

    ins = sg.numpy(1, N.Int32Flags)
    outs = sg.numpy(2, N.Int32Flags)
    model = Model(
        path=path,
        sha256=hashlib.sha256(raw).hexdigest(),
        version=int(version),
        description=root.string(3, ""),
        tensors=tensors,
        operators=operators,
        inputs=[int(v) for v in ins] if ins is not None else [],
        outputs=[int(v) for v in outs] if outs is not None else [],
        num_subgraphs=len(subgraphs),
        raw=bytes(raw),
    )
    if subgraph == 0:
        validate_model(model, where)
    return model


def load_model(path: str | Path) -> Model:
    """Read and parse a .tflite file; every failure is a UserError naming the file."""
    p = Path(path)
    if not p.exists():
        raise UserError(f"{p}: no such file")
    if p.is_dir():
        raise UserError(f"{p}: is a directory, expected a .tflite file",
                        hint="convert a SavedModel first: deploy convert DIR -o model.tflite")
    try:
        raw = p.read_bytes()
    except OSError as err:
        raise UserError(f"{p}: cannot read ({err.strerror})") from None
    return parse_model(raw, p)

