"""Writing files safely: atomically (a reader never sees half a file, an interrupted run leaves the old
one), and, for generated sources, only when the content changes (so mtimes, and PlatformIO's incremental
builds, survive a re-render of the same thing)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def current_umask() -> int:
    """The process umask (read without changing it where /proc tells; else set and restored at once)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path: str | Path, content: str | bytes, *, mode: int = 0o666) -> Path:
    """Write `content` to `path` through a unique temporary file in the same directory and a rename.

    The file gets `mode` less the umask, as open() would give it (mkstemp's own 0600 would make every
    report and model private to its writer).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = content.encode("utf-8") if isinstance(content, str) else content
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode & ~current_umask())
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def write_if_changed(path: Path, content: str | bytes, changed: list[str] | None = None) -> bool:
    """Write `content` to `path` atomically unless the file already holds exactly that; True if written."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    if path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data:
        return False
    write_atomic(path, data)
    if changed is not None:
        changed.append(str(path))
    return True


def symlink_if_changed(link: Path, target: Path, changed: list[str] | None = None) -> bool:
    """Point `link` at `target` (atomically) unless it already does; True if (re)made."""
    if link.is_symlink() and os.readlink(link) == str(target):
        return False
    link.parent.mkdir(parents=True, exist_ok=True)
    tmp = link.with_name(f".{link.name}.tmp{os.getpid()}")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(target)
    os.replace(tmp, link)
    if changed is not None:
        changed.append(str(link))
    return True
