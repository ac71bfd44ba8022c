"""Shared pytest setup: quiet TensorFlow before anything imports it, and a few generic fixtures."""

from __future__ import annotations

import os

import pytest

# Set at import time: conftest is imported before any test module, so before TensorFlow.
for _key, _value in {
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "TF_ENABLE_ONEDNN_OPTS": "0",
    "ABSL_MIN_LOG_LEVEL": "3",
    "CUDA_VISIBLE_DEVICES": "-1",
}.items():
    os.environ.setdefault(_key, _value)


@pytest.fixture(scope="session")
def tf_env() -> dict[str, str]:
    """The TF environment variables the suite runs with (for tests that start subprocesses)."""
    return {k: os.environ[k] for k in ("TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS", "ABSL_MIN_LOG_LEVEL")}


def patch_opcode(raw: bytes, opcode_index: int, code: int) -> bytes:
    """Return a copy of a .tflite flatbuffer with operator code `opcode_index` changed to builtin `code`
    (e.g. 32 = CUSTOM, or a number no runtime knows): how tests get models with unsupported ops."""
    import struct

    from flatbuffers.table import Table

    buf = bytearray(raw)
    root = Table(buf, int.from_bytes(buf[0:4], "little"))
    codes = root.Vector(root.Offset(4 + 2 * 1))  # Model.operator_codes
    entry = Table(buf, root.Indirect(codes + 4 * opcode_index))
    deprecated, builtin = entry.Offset(4), entry.Offset(4 + 2 * 3)
    if deprecated:
        struct.pack_into("<b", buf, entry.Pos + deprecated, min(code, 127))
    if builtin:
        struct.pack_into("<i", buf, entry.Pos + builtin, code)
    if not (deprecated or builtin):
        raise ValueError("operator code has no stored builtin code to patch")
    return bytes(buf)


@pytest.fixture(scope="session")
def opcode_patcher():
    """`patch_opcode(raw, opcode_index, code) -> bytes` as a fixture (see above)."""
    return patch_opcode
