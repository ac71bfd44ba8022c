"""tinydeploy.toml: the project config's [tflm] table feeds the tflm renderer; the CLI wins over it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tinydeploy.config import tflm_options
from tinydeploy.errors import UserError


def test_no_config_means_only_cli_options(tmp_path: Path) -> None:
    assert tflm_options({"arena_bytes": None, "tflm_ref": "abc"}, tmp_path) == {"tflm_ref": "abc"}


def test_config_values_and_cli_precedence(tmp_path: Path) -> None:
    (tmp_path / "tinydeploy.toml").write_text(
        '[tflm]\ntemplates = "tpl"\ngit = "https://mirror.example/tflm.git"\nref = "c0ffee"\narena_margin = 0.3\n')
    options = tflm_options({"tflm_ref": "deadbeef", "arena_bytes": None}, tmp_path)
    assert options == {"templates_dir": (tmp_path / "tpl").resolve(), "tflm_git": "https://mirror.example/tflm.git",
                       "tflm_ref": "deadbeef", "arena_margin": 0.3}


@pytest.mark.parametrize(("text", "message"), [
    ("[tflm]\nmargin = 1\n", "unknown key tflm.margin"),
    ("[tflm]\narena_margin = 'big'\n", "tflm.arena_margin has the wrong type"),
    ("[tflm\n", "not valid TOML"),
])
def test_bad_config_names_the_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "tinydeploy.toml").write_text(text)
    with pytest.raises(UserError, match=message) as err:
        tflm_options({}, tmp_path)
    assert "tinydeploy.toml" in str(err.value)


def test_render_uses_the_config_templates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tinydeploy import zoo
    from tinydeploy.cli import main

    (tmp_path / "tpl" / "tflm").mkdir(parents=True)
    (tmp_path / "tpl" / "tflm" / "sketch.cpp.j2").write_text("// my sketch for {{ board_id }}\n")
    (tmp_path / "tinydeploy.toml").write_text('[tflm]\ntemplates = "tpl"\n')
    monkeypatch.chdir(tmp_path)
    model = zoo.tflite_model("residual_add", "int8")
    assert main(["render", str(model), "--runtime", "tflm", "--board", "pico", "-o", str(tmp_path / "p")]) == 0
    assert (tmp_path / "p/src/sketch.cpp").read_text() == "// my sketch for pico\n"
