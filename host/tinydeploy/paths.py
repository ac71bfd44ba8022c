"""Where things live: the repository's data directories and the project's cache."""

from __future__ import annotations

import os
from pathlib import Path


def repo_root() -> Path:
    """The checkout holding boards/, firmware/ and templates/ (override with TINYDEPLOY_ROOT)."""
    env = os.environ.get("TINYDEPLOY_ROOT")
    if env:
        return Path(env).resolve()
    return Path(__file__).resolve().parents[2]


def boards_dir() -> Path:
    return repo_root() / "boards"


def firmware_dir() -> Path:
    return repo_root() / "firmware"


def templates_dir() -> Path:
    return repo_root() / "templates"


def cache_dir() -> Path:
    """The project's cache: provisioned PlatformIO home, build trees, converted models.

    TINYDEPLOY_CACHE overrides it; the default sits inside the checkout so that a clone is self-contained.
    """
    env = os.environ.get("TINYDEPLOY_CACHE")
    path = Path(env) if env else repo_root() / ".cache"
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve()
