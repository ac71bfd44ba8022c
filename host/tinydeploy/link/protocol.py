"""The wire format of the tinydeploy serial protocol (docs/protocol.md): framing, CRC, message layouts.

Pure functions, no I/O: `tinydeploy.link.client` drives them over a transport.  The constants mirror
firmware/harness/td_protocol.h; a change to either is a protocol change (bump PROTOCOL_VERSION).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

import numpy as np

PROTOCOL_VERSION = 1
HEADER = 2  # type u8, seq u8
CRC = 4
OVERHEAD = HEADER + CRC

# Requests and their replies.
HELLO, INPUT, INVOKE, READ = 0x01, 0x02, 0x03, 0x04
HELLO_R, ACK, RESULT, OUTPUT = 0x81, 0x82, 0x83, 0x84
BOOT, ERROR = 0xB0, 0xEE
# The layers extension (firmware built with -DTD_LAYERS; docs/protocol.md "Layers").
LAYERS, PROFILE, READ_LAYER = 0x05, 0x06, 0x07
LAYERS_R, LAYER_OUT = 0x85, 0x87
LAYERS_VERSION = 1
LAYER_ALL = 0xFFFF  # PROFILE: run every layer
LAYERS_F_TIMED, LAYERS_F_OUTPUTS = 0x01, 0x02
REPLY_TO = {HELLO: HELLO_R, INPUT: ACK, INVOKE: RESULT, READ: OUTPUT,
            LAYERS: LAYERS_R, PROFILE: ACK, READ_LAYER: LAYER_OUT}
TYPE_NAMES = {
    HELLO: "HELLO", INPUT: "INPUT", INVOKE: "INVOKE", READ: "READ", HELLO_R: "HELLO_R", ACK: "ACK",
    RESULT: "RESULT", OUTPUT: "OUTPUT", BOOT: "BOOT", ERROR: "ERROR",
    LAYERS: "LAYERS", PROFILE: "PROFILE", READ_LAYER: "READ_LAYER", LAYERS_R: "LAYERS_R", LAYER_OUT: "LAYER_OUT",
}

# Error codes.  NAKs answer a frame the device could not read: resend it.
E_BAD_CRC, E_BAD_FRAME, E_OVERFLOW = 1, 2, 3
E_UNKNOWN_TYPE, E_OUT_OF_ORDER, E_BAD_LENGTH, E_INCOMPLETE, E_RUNTIME, E_INVOKE = 4, 5, 6, 7, 8, 9
E_NOT_READY = 10  # READ_LAYER of a layer whose output the last invoke did not leave in place
NAK_CODES = frozenset({E_BAD_CRC, E_BAD_FRAME, E_OVERFLOW})
# The device no longer holds the input this inference sent: it was reset (or served another host).
LOST_STATE_CODES = frozenset({E_OUT_OF_ORDER, E_INCOMPLETE})
ERROR_NAMES = {
    E_BAD_CRC: "bad CRC", E_BAD_FRAME: "bad frame", E_OVERFLOW: "frame overflow",
    E_UNKNOWN_TYPE: "unknown frame type", E_OUT_OF_ORDER: "out of order", E_BAD_LENGTH: "bad length",
    E_INCOMPLETE: "incomplete input", E_RUNTIME: "runtime init failed", E_INVOKE: "invoke failed",
    E_NOT_READY: "layer output not held",
}

# td_dtype (TFLite TensorType numbering) -> numpy dtype.
DTYPES = {0: np.float32, 2: np.int32, 3: np.uint8, 7: np.int16, 9: np.int8}

RESULT_HEAD = struct.Struct("<III")  # latency ticks, stack bytes, output total bytes
OFFSET = struct.Struct("<I")
READ_REQ = struct.Struct("<IH")
ERROR_HEAD = struct.Struct("<BI")
HELLO_HEAD = struct.Struct("<BiIIIIII32s")
LAYERS_REQ = struct.Struct("<H")  # first layer of the page
PROFILE_REQ = struct.Struct("<H")  # stop after this layer (LAYER_ALL: run all)
READ_LAYER_REQ = struct.Struct("<HIH")  # layer, offset, length
LAYERS_HEAD = struct.Struct("<BBHHB")  # version, flags, count, first, n
LAYER_ENTRY = struct.Struct("<HHII")  # op, tensor, bytes, ticks
LAYER_OUT_HEAD = struct.Struct("<HI")  # layer, offset


def crc32(data: bytes) -> int:
    """CRC-32/IEEE as zlib computes it (and td_crc32 on the device)."""
    return zlib.crc32(data) & 0xFFFFFFFF


def cobs_encode(data: bytes) -> bytes:
    out = bytearray()
    start = 0
    n = len(data)
    while True:
        run = 0
        while start + run < n and run < 254 and data[start + run] != 0:
            run += 1
        out.append(run + 1)
        out += data[start : start + run]
        start += run
        if run == 254:
            if start == n:
                return bytes(out)
            continue
        if start >= n:
            return bytes(out)
        start += 1  # the zero this block stands for
        if start == n:
            out.append(1)
            return bytes(out)


def cobs_decode(data: bytes) -> bytes:
    """Inverse of cobs_encode; ValueError on bytes that are not valid COBS."""
    out = bytearray()
    i, n = 0, len(data)
    while i < n:
        code = data[i]
        i += 1
        if code == 0 or i + code - 1 > n:
            raise ValueError("invalid COBS")
        block = data[i : i + code - 1]
        if 0 in block:
            raise ValueError("zero inside a COBS block")
        out += block
        i += code - 1
        if code != 0xFF and i < n:
            out.append(0)
    return bytes(out)


def cobs_max_decoded(encoded: int) -> int:
    return encoded - (encoded + 253) // 254


@dataclass(frozen=True)
class Frame:
    type: int
    seq: int
    payload: bytes

    @property
    def name(self) -> str:
        return TYPE_NAMES.get(self.type, f"0x{self.type:02x}")


def encode_frame(ftype: int, seq: int, payload: bytes = b"") -> bytes:
    """The bytes on the wire for one frame, delimiter included."""
    body = bytes((ftype, seq & 0xFF)) + payload
    return cobs_encode(body + crc32(body).to_bytes(4, "little")) + b"\x00"


def decode_frame(encoded: bytes) -> Frame:
    """One frame from its COBS bytes (no delimiter); ValueError when it is corrupt."""
    raw = cobs_decode(encoded)
    if len(raw) < OVERHEAD:
        raise ValueError(f"frame of {len(raw)} bytes is shorter than header + CRC")
    body, crc = raw[:-CRC], int.from_bytes(raw[-CRC:], "little")
    if crc32(body) != crc:
        raise ValueError("CRC mismatch")
    return Frame(body[0], body[1], body[2:])


class FrameSplitter:
    """Accumulates received bytes and yields the COBS bytes of each complete frame."""

    def __init__(self, max_frame: int = 1 << 16) -> None:
        self._buf = bytearray()
        self._max = max_frame

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        frames = []
        while True:
            end = self._buf.find(0)
            if end < 0:
                break
            if end:
                frames.append(bytes(self._buf[:end]))
            del self._buf[: end + 1]
        if len(self._buf) > self._max:  # garbage without delimiters: keep memory bounded
            del self._buf[: -self._max]
        return frames

    def clear(self) -> None:
        self._buf.clear()


# ---- message payloads -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TensorSpec:
    dtype: np.dtype
    shape: tuple[int, ...]
    scale: float
    zero_point: int
    nbytes: int

    def describe(self) -> str:
        q = f" scale={self.scale:g} zp={self.zero_point}" if self.scale else ""
        return f"{self.dtype.name}{list(self.shape)}{q}"


@dataclass(frozen=True)
class DeviceInfo:
    """What the device says about itself in its HELLO reply."""

    protocol_version: int
    board: str
    runtime: str
    model_sha256: str  # hex
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    arena_bytes: int
    arena_used_bytes: int
    clock_hz: int
    counter_unit: str  # "cycles", "instructions", "ticks", "ns"
    counter_scale: int
    max_input_chunk: int  # data bytes per INPUT/INVOKE frame
    max_output_chunk: int  # data bytes per OUTPUT frame
    runtime_status: int = 0
    runtime_error: str = ""

    @property
    def latency_unit(self) -> str:
        """The unit latencies are reported in: ticks are scaled to cycles."""
        return "cycles" if self.counter_unit == "ticks" else self.counter_unit

    @property
    def input_bytes(self) -> int:
        return sum(t.nbytes for t in self.inputs)

    @property
    def output_bytes(self) -> int:
        return sum(t.nbytes for t in self.outputs)

    def identity(self) -> tuple:
        """What must not change across a device reset within one run."""
        return (self.board, self.runtime, self.model_sha256, self.inputs, self.outputs)


class _Reader:
    """Reads a payload field by field; ValueError naming the frame, the field and the bytes missing when the
    payload ends early (a valid CRC does not make a payload well formed: another firmware version, a bug)."""

    def __init__(self, frame: str, payload: bytes) -> None:
        self.frame, self.payload, self.pos = frame, payload, 0

    def take(self, size: int, field: str) -> bytes:
        if self.pos + size > len(self.payload):
            raise ValueError(f"{self.frame} payload of {len(self.payload)} bytes ends inside {field} "
                             f"(needs {self.pos + size} bytes)")
        data = self.payload[self.pos : self.pos + size]
        self.pos += size
        return data

    def unpack(self, layout: struct.Struct | str, field: str) -> tuple:
        layout = layout if isinstance(layout, struct.Struct) else struct.Struct(layout)
        return layout.unpack(self.take(layout.size, field))

    def string(self, field: str) -> str:
        (n,) = self.take(1, f"the length of {field}")
        return printable(self.take(n, field).decode("utf-8", "replace"))


def printable(text: str) -> str:
    """Device text made safe for a one-line message: control characters shown as escapes."""
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)


def parse_hello(payload: bytes) -> DeviceInfo:
    """Decode a HELLO_R payload; ValueError when it is malformed or of another protocol version."""
    if not payload or payload[0] != PROTOCOL_VERSION:
        got = payload[0] if payload else None
        raise ValueError(f"protocol version {got}, this host speaks {PROTOCOL_VERSION}")
    reader = _Reader("HELLO_R", payload)
    (version, status, max_in, max_out, clock, scale, arena, arena_used, sha) = reader.unpack(HELLO_HEAD, "its header")
    board, runtime, unit, error = (reader.string(name) for name in ("board", "runtime", "counter_unit",
                                                                    "runtime_error"))
    n_in, n_out = reader.unpack("<BB", "the tensor counts")
    specs = []
    for k in range(n_in + n_out):
        what = f"tensor spec {k}"
        dtype_code, ndims = reader.unpack("<BB", what)
        dims = reader.unpack(f"<{ndims}i", what)
        tscale, zp, nbytes = reader.unpack("<fiI", what)
        if dtype_code not in DTYPES:
            raise ValueError(f"unknown tensor dtype code {dtype_code}")
        dtype = np.dtype(DTYPES[dtype_code])
        if any(d < 0 for d in dims) or nbytes != int(np.prod(dims, dtype=np.int64)) * dtype.itemsize:
            raise ValueError(f"{what}: {dtype.name}{list(dims)} does not take the {nbytes} bytes it announces")
        specs.append(TensorSpec(np.dtype(DTYPES[dtype_code]), tuple(dims), float(tscale), zp, nbytes))
    if reader.pos != len(payload):
        raise ValueError(f"HELLO_R payload has {len(payload) - reader.pos} trailing bytes")
    return DeviceInfo(
        protocol_version=version, board=board, runtime=runtime, model_sha256=sha.hex(),
        inputs=tuple(specs[:n_in]), outputs=tuple(specs[n_in:]), arena_bytes=arena,
        arena_used_bytes=arena_used, clock_hz=clock, counter_unit=unit, counter_scale=scale,
        max_input_chunk=max_in, max_output_chunk=max_out, runtime_status=status, runtime_error=error,
    )


@dataclass(frozen=True)
class DeviceError:
    code: int
    detail: int
    message: str

    def describe(self) -> str:
        return f"{ERROR_NAMES.get(self.code, f'error {self.code}')}: {self.message} (detail {self.detail})"


def parse_error(payload: bytes) -> DeviceError:
    """Decode an ERROR payload; ValueError when it is shorter than its code and detail."""
    code, detail = _Reader("ERROR", payload).unpack(ERROR_HEAD, "its code and detail")
    return DeviceError(code, detail, printable(payload[ERROR_HEAD.size :].decode("utf-8", "replace")))


def parse_result(payload: bytes) -> tuple[int, int, int, bytes]:
    """Decode a RESULT payload: (latency ticks, stack bytes, output total bytes, first output bytes)."""
    ticks, stack, total = _Reader("RESULT", payload).unpack(RESULT_HEAD, "its latency/stack/total head")
    return ticks, stack, total, payload[RESULT_HEAD.size :]


def parse_output(payload: bytes) -> tuple[int, bytes]:
    """Decode an OUTPUT payload: (offset, data)."""
    (offset,) = _Reader("OUTPUT", payload).unpack(OFFSET, "its offset")
    return offset, payload[OFFSET.size :]


# ---- the layers extension -----------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerEntry:
    """One layer (an operator the runtime runs) as the device reports it."""

    op: int  # operator index in the .tflite
    tensor: int  # its first output tensor
    nbytes: int
    ticks: int  # counter ticks in the last profiled invoke (0: not run or not profiled)


@dataclass(frozen=True)
class LayersPage:
    version: int
    flags: int
    count: int  # layers in all
    first: int
    entries: tuple[LayerEntry, ...]

    @property
    def timed(self) -> bool:
        return bool(self.flags & LAYERS_F_TIMED)

    @property
    def outputs(self) -> bool:
        return bool(self.flags & LAYERS_F_OUTPUTS)


def parse_layers(payload: bytes) -> LayersPage:
    """Decode a LAYERS_R payload; ValueError when malformed or of a layers version this host does not speak."""
    if len(payload) < LAYERS_HEAD.size:
        raise ValueError(f"LAYERS reply of {len(payload)} bytes is shorter than its header")
    version, flags, count, first, n = LAYERS_HEAD.unpack_from(payload)
    if version != LAYERS_VERSION:
        raise ValueError(f"layers extension version {version}, this host speaks {LAYERS_VERSION}")
    if len(payload) != LAYERS_HEAD.size + n * LAYER_ENTRY.size:
        raise ValueError(f"LAYERS reply announces {n} entries in {len(payload)} bytes")
    if first + n > count:
        raise ValueError(f"LAYERS reply entries {first}..{first + n} beyond its {count} layers")
    entries = tuple(LayerEntry(*LAYER_ENTRY.unpack_from(payload, LAYERS_HEAD.size + k * LAYER_ENTRY.size))
                    for k in range(n))
    return LayersPage(version, flags, count, first, entries)
