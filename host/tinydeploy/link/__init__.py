"""The serial link to a device running the tinydeploy harness (protocol: docs/protocol.md)."""

from tinydeploy.link.client import DeviceLink, InferResult, LinkStats
from tinydeploy.link.detect import find_port
from tinydeploy.link.protocol import PROTOCOL_VERSION, DeviceInfo, TensorSpec

__all__ = ["DeviceLink", "DeviceInfo", "InferResult", "LinkStats", "TensorSpec", "PROTOCOL_VERSION", "find_port"]
