"""Issue 13's measure: aot lowers every builtin TFLite Micro registers (the list measured from TFLM's own
interpreter, tinydeploy/tflm/registered_ops.json).  Each op's dtype paths are proved exact by its own
randomized test file (test_aot_ops_*.py); this test keeps the op list from regressing or falling behind a
new tflite-micro."""

from __future__ import annotations

import json

from tinydeploy.aot.lowering import supported_ops
from tinydeploy.tflm.ops import REGISTERED_FILE

# TFLM ships these as custom ops; a model must name them itself (no converter emits them from Keras layers).
CUSTOM_OPS_AOT_LACKS = {"CIRCULAR_BUFFER", "TFLite_Detection_PostProcess"}


def test_aot_lowers_every_builtin_tflm_registers() -> None:
    registered = json.loads(REGISTERED_FILE.read_text(encoding="utf-8"))
    builtins = set(registered["builtin"])
    assert len(builtins) >= 100
    assert sorted(builtins - set(supported_ops())) == []
    assert set(registered["custom"]) == CUSTOM_OPS_AOT_LACKS


def test_aot_rewrites_tile_which_tflm_lacks() -> None:
    """UpSampling's TILE: TFLM registers no TILE kernel; aot runs it (a strided copy)."""
    registered = set(json.loads(REGISTERED_FILE.read_text(encoding="utf-8"))["builtin"])
    assert "TILE" not in registered and "TILE" in supported_ops()
