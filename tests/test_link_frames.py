"""Malformed frames with a valid CRC (another firmware version, a device bug, a hostile device): every reply
parser in the host client length-checks its payload, and the client answers with a LinkError naming the
frame and what was wrong, never a struct.error or IndexError traceback (issue 16: a 3-byte OUTPUT frame
raised struct.error).  The device is scripted in Python behind a fake transport: no process, no timing."""

from __future__ import annotations

import random
import struct
from typing import Callable

import numpy as np
import pytest

from tinydeploy.errors import LinkError, UserError
from tinydeploy.link import DeviceLink
from tinydeploy.link import protocol as P

SHA = bytes(range(32))
IN_BYTES, OUT_BYTES, MAX_OUT = 4, 8, 4  # outputs come back as RESULT (no data) + two OUTPUT frames


def spec(dtype_code: int, dims: tuple[int, ...], nbytes: int) -> bytes:
    return struct.pack(f"<BB{len(dims)}ifiI", dtype_code, len(dims), *dims, 0.5, -1, nbytes)


def text(value: str) -> bytes:
    return bytes([len(value)]) + value.encode()


def hello_payload() -> bytes:
    head = P.HELLO_HEAD.pack(P.PROTOCOL_VERSION, 0, 64, MAX_OUT, 0, 1, 1024, 512, SHA)
    return (head + text("native") + text("aot") + text("ns") + text("") + bytes([1, 1])
            + spec(9, (1, IN_BYTES), IN_BYTES) + spec(9, (1, OUT_BYTES), OUT_BYTES))


Replier = Callable[[P.Frame], bytes | None]  # a request -> the reply payload (None: the good one)


class ScriptedDevice:
    """A transport whose far end answers each request at once; `override[type]` replaces the payload of
    that reply type (a function of the request, so a test can damage one frame of many)."""

    url = "scripted://device"

    def __init__(self, override: dict[int, Replier] | None = None, boot_payload: bytes | None = None) -> None:
        self.override = override or {}
        self.bytes_written = self.bytes_read = 0
        self._out = bytearray()
        self._splitter = P.FrameSplitter()
        self._boot_once = boot_payload  # sent (once) in place of the first RESULT: a reset mid-inference

    def write(self, data: bytes) -> None:
        self.bytes_written += len(data)
        for encoded in self._splitter.feed(data):
            request = P.decode_frame(encoded)
            if request.type == P.INVOKE and self._boot_once is not None:
                self._out += P.encode_frame(P.BOOT, 0, self._boot_once)
                self._boot_once = None
                continue
            reply_type = P.REPLY_TO[request.type]
            payload = self.override.get(reply_type, lambda _r: None)(request)
            if payload is None:
                payload = self.good_reply(request)
            self._out += P.encode_frame(reply_type, request.seq, payload)

    @staticmethod
    def good_reply(request: P.Frame) -> bytes:
        if request.type == P.HELLO:
            return hello_payload()
        if request.type == P.INVOKE:
            return P.RESULT_HEAD.pack(1000, 256, OUT_BYTES)
        if request.type == P.READ:
            offset, length = P.READ_REQ.unpack(request.payload)
            return P.OFFSET.pack(offset) + bytes(range(offset, offset + length))
        return b""

    def read(self, timeout: float) -> bytes:
        data, self._out = bytes(self._out), bytearray()
        self.bytes_read += len(data)
        return data

    def discard_input(self) -> None:
        self._out.clear()

    def close(self) -> None:
        pass


def link_over(device: ScriptedDevice) -> DeviceLink:
    return DeviceLink.over(device, timeout=0.05, invoke_timeout=0.05, max_retries=1)


def infer_once(device: ScriptedDevice) -> np.ndarray:
    link = link_over(device)
    return link.infer([np.arange(IN_BYTES, dtype=np.int8).reshape(1, IN_BYTES)]).outputs[0]


def test_the_scripted_device_is_well_formed():
    assert infer_once(ScriptedDevice()).tolist() == [list(range(OUT_BYTES))]


@pytest.mark.parametrize("size", range(P.OFFSET.size))
def test_output_frame_shorter_than_its_offset_is_a_link_error(size):
    device = ScriptedDevice({P.OUTPUT: lambda _r: bytes(size)})
    with pytest.raises(LinkError, match=rf"malformed OUTPUT frame .*{size} payload bytes.*ends inside its offset"):
        infer_once(device)


def test_output_frame_with_more_bytes_than_asked_is_a_link_error():
    device = ScriptedDevice({P.OUTPUT: lambda r: P.OFFSET.pack(P.READ_REQ.unpack(r.payload)[0]) + bytes(MAX_OUT + 3)})
    with pytest.raises(LinkError, match="OUTPUT at offset 0 with 7 bytes, asked 4"):
        infer_once(device)


@pytest.mark.parametrize("size", range(P.RESULT_HEAD.size))
def test_result_frame_shorter_than_its_head_is_a_link_error(size):
    device = ScriptedDevice({P.RESULT: lambda _r: bytes(size)})
    with pytest.raises(LinkError, match=r"malformed RESULT frame .*ends inside its latency/stack/total head"):
        infer_once(device)


def test_result_frame_with_more_output_than_it_announces_is_a_link_error():
    device = ScriptedDevice({P.RESULT: lambda _r: P.RESULT_HEAD.pack(1, 2, OUT_BYTES) + bytes(OUT_BYTES + 1)})
    with pytest.raises(LinkError, match="RESULT carries 9 output bytes of the 8"):
        infer_once(device)


@pytest.mark.parametrize("size", range(P.ERROR_HEAD.size))
def test_error_frame_shorter_than_its_head_is_a_link_error(size):
    device = ScriptedDevice()
    link = link_over(device)
    device._out += P.encode_frame(P.ERROR, (link._seq + 1) & 0xFF, bytes([P.E_INVOKE, 0, 0, 0, 0][:size]))
    with pytest.raises(LinkError, match=r"malformed ERROR frame .*ends inside its code and detail"):
        link.infer([np.zeros((1, IN_BYTES), np.int8)])


def test_every_truncation_of_hello_is_a_link_error_naming_the_field():
    full = hello_payload()
    for size in range(1, len(full)):
        device = ScriptedDevice({P.HELLO_R: lambda _r, n=size: full[:n]})
        with pytest.raises(LinkError, match=r"malformed HELLO_R frame .*ends inside") as err:
            link_over(device)
        assert "\n" not in err.value.message


def test_hello_with_trailing_bytes_or_inconsistent_sizes_is_a_link_error():
    with pytest.raises(LinkError, match="HELLO_R payload has 2 trailing bytes"):
        link_over(ScriptedDevice({P.HELLO_R: lambda _r: hello_payload() + b"\x01\x02"}))
    lying = hello_payload().replace(spec(9, (1, OUT_BYTES), OUT_BYTES), spec(9, (1, OUT_BYTES), OUT_BYTES + 5))
    with pytest.raises(LinkError, match=r"tensor spec 1: int8\[1, 8\] does not take the 13 bytes"):
        link_over(ScriptedDevice({P.HELLO_R: lambda _r: lying}))


def test_a_short_boot_frame_is_a_reset_the_run_recovers_from():
    device = ScriptedDevice(boot_payload=b"")
    assert infer_once(device).tolist() == [list(range(OUT_BYTES))]


@pytest.mark.parametrize("reply_type", [P.HELLO_R, P.ACK, P.RESULT, P.OUTPUT, P.ERROR, P.BOOT])
def test_garbled_valid_crc_frames_of_every_type_never_crash_the_client(reply_type):
    """Random payloads (seeded) in place of each reply type: the client either completes the inference or
    raises a one-line LinkError/UserError; anything else (struct.error, IndexError, ...) fails the test."""
    rng = random.Random(reply_type)
    outcomes = {"ok": 0, "error": 0}
    for _ in range(60):
        garbage = bytes(rng.randrange(256) for _ in range(rng.choice([0, 1, 2, 3, 5, 11, 13, 40, 120])))
        if reply_type in (P.ERROR, P.BOOT):  # unsolicited: injected in place of the RESULT
            device = ScriptedDevice()
            device.write = _inject_before_result(device, reply_type, garbage)  # type: ignore[method-assign]
        else:
            device = ScriptedDevice({reply_type: lambda _r, g=garbage: g})
        try:
            infer_once(device)
            outcomes["ok"] += 1
        except UserError as err:
            assert "\n" not in err.message, err.message
            outcomes["error"] += 1
    assert sum(outcomes.values()) == 60


def _inject_before_result(device: ScriptedDevice, ftype: int, payload: bytes):
    original = ScriptedDevice.write

    def write(data: bytes) -> None:
        for encoded in P.FrameSplitter().feed(data):
            request = P.decode_frame(encoded)
            if request.type == P.INVOKE and not getattr(device, "_injected", False):
                device._injected = True  # type: ignore[attr-defined]
                device._out += P.encode_frame(ftype, request.seq, payload)
        original(device, data)

    return write
