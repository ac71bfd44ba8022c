"""The project config: an optional `tinydeploy.toml` in the directory a command runs from.

    [tflm]
    templates = "my_templates"     # overrides templates/tflm/*.j2 (looked up in DIR/tflm/, then DIR/)
    git = "https://example.org/tflite-micro-arduino-examples.git"
    ref = "<commit>"
    arena_margin = 0.3

Command-line options win over the file; the file wins over the built-in defaults.  Relative paths are taken
from the file's directory.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from tinydeploy.errors import UserError

CONFIG_NAME = "tinydeploy.toml"
TFLM_KEYS = {"templates": str, "git": str, "ref": str, "arena_margin": (int, float)}


def load_config(directory: Path | None = None) -> dict[str, Any]:
    """The parsed tinydeploy.toml of `directory` (default: the working directory), or {} when there is none."""
    path = (directory or Path.cwd()) / CONFIG_NAME
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise UserError(f"{path}: not valid TOML ({err})") from None
    data["_path"] = path
    return data


def tflm_options(cli: dict[str, Any], directory: Path | None = None) -> dict[str, Any]:
    """render_tflm keyword options from the config's [tflm] table, overridden by the CLI's non-None values."""
    config = load_config(directory)
    table = config.get("tflm", {})
    where = config.get("_path")
    if not isinstance(table, dict):
        raise UserError(f"{where}: [tflm] must be a table")
    options: dict[str, Any] = {}
    for key, value in table.items():
        kind = TFLM_KEYS.get(key)
        if kind is None:
            raise UserError(f"{where}: unknown key tflm.{key}", hint=f"known keys: {', '.join(TFLM_KEYS)}")
        if not isinstance(value, kind):
            raise UserError(f"{where}: tflm.{key} has the wrong type ({type(value).__name__})")
        options[key] = value
    if "templates" in options:
        options["templates"] = (where.parent / options["templates"]).resolve()
    renamed = {"templates": "templates_dir", "git": "tflm_git", "ref": "tflm_ref", "arena_margin": "arena_margin"}
    result = {renamed[k]: v for k, v in options.items()}
    result.update({k: v for k, v in cli.items() if v is not None})
    return result
