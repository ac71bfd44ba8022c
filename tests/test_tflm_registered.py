"""The tflm op table is what TFLM's own interpreter registers (measured by tinydeploy.tflm.probe_registered)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("tflite_micro.python.tflite_micro.runtime")

from tinydeploy.tflm import probe_registered  # noqa: E402
from tinydeploy.tflm.ops import REGISTERED_FILE, TFLM_OPS, UNNAMED_REGISTERED, resolver_method  # noqa: E402


def test_checked_in_file_matches_the_installed_package():
    measured = probe_registered.probe()  # < 1 s: kernel lookups only, no kernel runs
    recorded = json.loads(REGISTERED_FILE.read_text(encoding="utf-8"))
    assert measured["builtin"] == recorded["builtin"], "rerun: python -m tinydeploy.tflm.probe_registered"
    assert measured["custom"] == recorded["custom"]


def test_table_has_what_tflm_registers():
    assert UNNAMED_REGISTERED == []  # every registered op has a resolver method name
    for op, method in {"BATCH_MATMUL": "AddBatchMatMul", "REDUCE_MIN": "AddReduceMin",
                       "EMBEDDING_LOOKUP": "AddEmbeddingLookup", "CONV_2D": "AddConv2D"}.items():
        assert resolver_method(op) == method
    assert "TILE" not in TFLM_OPS and "REDUCE_PROD" not in TFLM_OPS  # TFLM really lacks these
    assert resolver_method("CUSTOM:TFLite_Detection_PostProcess") == "AddDetectionPostprocess"
