"""The wire format: COBS and CRC-32 on both sides (Python and the harness C, via ctypes), frames."""

from __future__ import annotations

import ctypes
import sys
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinydeploy.link import protocol as P

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "harness"))
import fakedev  # noqa: E402


@pytest.fixture(scope="module")
def codec(tmp_path_factory):
    lib = ctypes.CDLL(str(fakedev.codec_library(tmp_path_factory.mktemp("codec"))))
    lib.td_crc32.restype = ctypes.c_uint32
    lib.td_crc32.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
    lib.td_cobs_decode.restype = ctypes.c_long
    lib.td_cobs_decode.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
    lib.td_cobs_write.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
    lib.capture_take.restype = ctypes.c_size_t
    lib.capture_take.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
    return lib


def c_encode(lib, data: bytes) -> bytes:
    lib.td_cobs_write(data, len(data))
    out = ctypes.create_string_buffer(len(data) + len(data) // 254 + 8)
    n = lib.capture_take(out, len(out))
    return out.raw[:n]


def c_decode(lib, data: bytes) -> bytes | None:
    buf = ctypes.create_string_buffer(data, len(data))
    n = lib.td_cobs_decode(buf, len(data))
    return None if n < 0 else buf.raw[:n]


EDGE_LENGTHS = [0, 1, 2, 253, 254, 255, 256, 507, 508, 509, 1000]


@pytest.mark.parametrize("n", EDGE_LENGTHS)
@pytest.mark.parametrize("fill", [b"\x00", b"\x01", b"\x00\x07\x00\xff"])
def test_cobs_edge_lengths_match_between_python_and_c(codec, n, fill):
    data = (fill * (n // len(fill) + 1))[:n]
    encoded = P.cobs_encode(data)
    assert 0 not in encoded
    assert c_encode(codec, data) == encoded
    assert P.cobs_decode(encoded) == data
    assert c_decode(codec, encoded) == data
    assert len(encoded) <= n + n // 254 + 1  # overhead: one code byte per 254 data bytes


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=700))
def test_cobs_round_trip_and_c_agree(codec, data):
    encoded = P.cobs_encode(data)
    assert 0 not in encoded
    assert P.cobs_decode(encoded) == data
    assert c_encode(codec, data) == encoded
    assert c_decode(codec, encoded) == data


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600))
def test_crc32_is_zlibs_on_both_sides(codec, data):
    assert P.crc32(data) == zlib.crc32(data) == codec.td_crc32(data, len(data))


def test_crc32_check_value(codec):
    assert codec.td_crc32(b"123456789", 9) == 0xCBF43926  # the CRC-32/ISO-HDLC check value


def test_invalid_cobs_is_rejected_by_both(codec):
    for bad in (b"\x05\x01\x02", b"\x03\x00\x01", b"\x00"):
        with pytest.raises(ValueError):
            P.cobs_decode(bad)
        assert c_decode(codec, bad) is None


def test_frame_round_trip_and_corruption_is_detected():
    wire = P.encode_frame(P.INPUT, 300, b"\x00\x01payload\x00")
    assert wire.endswith(b"\x00") and wire.count(0) == 1
    frame = P.decode_frame(wire[:-1])
    assert (frame.type, frame.seq, frame.payload) == (P.INPUT, 300 & 0xFF, b"\x00\x01payload\x00")
    for i in range(len(wire) - 1):
        for bit in (0x01, 0x80):
            damaged = bytearray(wire[:-1])
            damaged[i] ^= bit
            if 0 in damaged:
                continue  # the splitter would cut it in two; each half fails below anyway
            with pytest.raises(ValueError):
                P.decode_frame(bytes(damaged))


def test_splitter_handles_partial_and_back_to_back_frames():
    a, b = P.encode_frame(P.ACK, 1), P.encode_frame(P.ACK, 2)
    splitter = P.FrameSplitter()
    stream = b"\x00\x00" + a + b
    got = []
    for i in range(0, len(stream), 3):
        got += splitter.feed(stream[i : i + 3])
    assert [P.decode_frame(f).seq for f in got] == [1, 2]
