"""The .tflite parser: real converter output in, graph IR out; bad files give one-line errors."""

from pathlib import Path

import pytest

from tinydeploy.errors import UserError
from tinydeploy.model.graph import load_model, parse_model


def test_not_a_flatbuffer(tmp_path: Path) -> None:
    bad = tmp_path / "model.tflite"
    bad.write_bytes(b"this is not a model at all")
    with pytest.raises(UserError, match="not a TFLite flatbuffer"):
        load_model(bad)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no such file"):
        load_model(tmp_path / "nope.tflite")


def test_too_short() -> None:
    with pytest.raises(UserError, match="too short"):
        parse_model(b"TFL3")
