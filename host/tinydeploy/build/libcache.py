"""Compiled once, linked by every model: a project library kept as a static archive across projects.

A clean build of TFLite Micro takes ~700 s on a 2-core machine, and it is the same for every model: only
the model array and the sketch change.  PlatformIO's own object cache cannot share it, because every
project's include paths (its own src/) are on the library's compile lines.  So the renderer marks the
library (`lib/<name>/tinydeploy-libcache.json`: the cache key and both manifests) and:

* before a build: if the archive for the key is in the cache, the project's library.json becomes the
  prebuilt variant (no sources, `-L<dir> -l<name>`); otherwise the from-source variant (an archive).
* after a successful from-source build: the archive PlatformIO produced is copied into the cache.

A library PlatformIO fetched through `lib_deps` (the TFLM Arduino library on a real board) is cached the same
way: the project carries FETCHED_MARKER; after the first successful build the fetched library (from
.pio/libdeps/) and its archive are kept under the key, and the renderer uses that copy, prebuilt, for every
later model (`cached_library`).

The key (computed by the renderer, `cache_key`) covers everything the objects depend on: the library
tree's digest, the board and its PlatformIO platform, the toolchain, and every compile flag.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

from tinydeploy.boards import Board
from tinydeploy.files import write_if_changed
from tinydeploy.paths import cache_dir

MARKER = "tinydeploy-libcache.json"
FETCHED_MARKER = ".tinydeploy-libcache-fetched.json"  # at the project's root: lib/ holds libraries only
LIBRARY_COPY = "library"
ARCHIVE_NAME = "cached"  # -> lib<name>-cached.a


def cache_root() -> Path:
    return Path(os.environ.get("TINYDEPLOY_LIB_CACHE") or cache_dir() / "lib-cache")


def cache_key(*, tree_digest: str, board: Board, flags: list[str]) -> str:
    parts = {"tree": tree_digest, "board": board.id, "platform": board.platformio.platform,
             "framework": board.platformio.framework, "board_flags": list(board.platformio.build_flags),
             "toolchain": toolchain_id(board), "flags": list(flags)}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:24]


def toolchain_id(board: Board) -> str:
    """What identifies the compiler: Debian's arm-none-eabi-g++ version for our dev-platform, else the
    installed upstream platform's version."""
    from tinydeploy.build.provision import PLATFORM_NAME, pio_platform

    if pio_platform(board) == PLATFORM_NAME:
        return _compiler_version("g++" if board.is_native else "arm-none-eabi-g++")
    return _platform_version(board.platformio.platform)


@lru_cache(maxsize=4)
def _compiler_version(compiler: str) -> str:
    try:
        out = subprocess.run([compiler, "-dumpfullversion"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return compiler
    return f"{compiler} {out.stdout.strip()}"


def _platform_version(name: str) -> str:
    from tinydeploy.build.pio import user_pio_home
    from tinydeploy.build.provision import pio_home

    for home in (user_pio_home(), pio_home()):
        manifest = home / "platforms" / name / "platform.json"
        try:
            return f"{name} {json.loads(manifest.read_text(encoding='utf-8')).get('version', '')}"
        except (OSError, ValueError):
            continue
    return name


def archive_path(key: str, name: str) -> Path:
    return cache_root() / key / f"lib{name}-{ARCHIVE_NAME}.a"


def write_marker(lib_dir: Path, *, key: str, name: str, manifest: dict) -> None:
    """Mark a project library (lib_dir holds its from-source library.json `manifest`) as cacheable."""
    write_if_changed(lib_dir / MARKER, json.dumps({"key": key, "name": name, "manifest": manifest}, indent=2) + "\n")


def prebuilt_manifest(manifest: dict, key: str, name: str) -> dict:
    """The library.json that links the cached archive instead of compiling the sources."""
    prebuilt = json.loads(json.dumps(manifest))
    build = prebuilt.setdefault("build", {})
    build["srcFilter"] = ["-<*>"]
    build["flags"] = [*build.get("flags", []), f"-L{archive_path(key, name).parent}", f"-l{name}-{ARCHIVE_NAME}"]
    return prebuilt


def write_fetched_marker(project_dir: Path, *, key: str, name: str, probe: str) -> None:
    """Mark a project whose lib_deps library (recognised by the file `probe` inside it) is to be kept, under
    `key`, as library `name` once it has been built."""
    write_if_changed(Path(project_dir) / FETCHED_MARKER,
                     json.dumps({"key": key, "name": name, "probe": probe}, indent=2) + "\n")


def clear_fetched_marker(project_dir: Path) -> None:
    (Path(project_dir) / FETCHED_MARKER).unlink(missing_ok=True)


def cached_library(key: str, name: str) -> Path | None:
    """The kept copy of a fetched library whose archive is cached under `key`, else None."""
    copy = cache_root() / key / LIBRARY_COPY
    return copy if copy.is_dir() and archive_path(key, name).is_file() else None


def _markers(project_dir: Path) -> list[tuple[Path, dict]]:
    found = []
    for marker in sorted((Path(project_dir) / "lib").glob(f"*/{MARKER}")):
        try:
            found.append((marker.parent, json.loads(marker.read_text(encoding="utf-8"))))
        except (OSError, ValueError):
            continue
    return found


def before_build(project_dir: Path) -> list[str]:
    """Point each marked library at its cached archive when there is one; returns the names that will link
    a cached archive."""
    cached = []
    for lib_dir, mark in _markers(project_dir):
        key, name, manifest = mark["key"], mark["name"], mark["manifest"]
        if archive_path(key, name).is_file():
            manifest = prebuilt_manifest(manifest, key, name)
            cached.append(name)
        write_if_changed(lib_dir / "library.json", json.dumps(manifest, indent=2) + "\n")
    return cached


def after_build(project_dir: Path, build_dir: Path) -> list[Path]:
    """Store the archives a from-source build produced (atomically); returns what was stored."""
    stored = []
    fetched = _store_fetched(Path(project_dir), Path(build_dir))
    if fetched is not None:
        stored.append(fetched)
    for _lib_dir, mark in _markers(project_dir):
        key, name = mark["key"], mark["name"]
        target = archive_path(key, name)
        if target.is_file():
            continue
        built = sorted(Path(build_dir).glob(f"lib*/lib{name}.a"))
        if not built:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        _copy_atomic(built[0], target)
        stored.append(target)
    return stored


def _store_fetched(project_dir: Path, build_dir: Path) -> Path | None:
    """Keep the lib_deps library a marked project built (a copy of it, then its archive: the archive's
    presence says the copy is complete)."""
    try:
        mark = json.loads((project_dir / FETCHED_MARKER).read_text(encoding="utf-8"))
        key, name, probe = mark["key"], mark["name"], mark["probe"]
    except (OSError, ValueError, KeyError):
        return None
    target = archive_path(key, name)
    libdeps = project_dir / ".pio" / "libdeps" / build_dir.name
    if target.is_file() or not libdeps.is_dir():
        return None
    for lib in sorted(libdeps.iterdir()):
        built = sorted(build_dir.glob(f"lib*/lib{lib.name}.a"))
        if not (lib / probe).is_file() or not built:
            continue
        copy = target.parent / LIBRARY_COPY
        if not copy.is_dir():
            cache_root().mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(dir=cache_root()))
            shutil.copytree(lib, staging / LIBRARY_COPY, ignore=shutil.ignore_patterns(".git", "examples"))
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.replace(staging / LIBRARY_COPY, copy)
            except OSError:  # another build kept it first
                pass
            shutil.rmtree(staging, ignore_errors=True)
        _copy_atomic(built[0], target)
        return target
    return None


def _copy_atomic(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
    os.close(fd)
    shutil.copyfile(source, tmp)
    os.replace(tmp, target)
