"""Durable file operations: digests, atomic replacement, fsync of folders."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

from .errors import WriteError

# Digests already taken in this process, by what identifies a file's content without reading
# it (as git's index does): the same inode, size, modification and change times. A file written
# or replaced since has another change time (which no program can set back), so it is read again.
_DIGESTS: dict[tuple[str, int, int, int, int, int], str] = {}
_DIGESTS_KEPT = 4096
_DIGESTS_LOCK = threading.Lock()


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes, read in chunks; a file unchanged since it was read is not
    read again (a run checks its images and clips several times)."""
    with path.open("rb") as handle:
        seen = os.fstat(handle.fileno())
        key = (os.path.abspath(path), seen.st_dev, seen.st_ino, seen.st_size,
               seen.st_mtime_ns, seen.st_ctime_ns)  # fmt: skip
        with _DIGESTS_LOCK:
            known = _DIGESTS.get(key)
        if known is not None:
            return known
        digest = hashlib.sha256()
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    value = digest.hexdigest()
    with _DIGESTS_LOCK:
        if len(_DIGESTS) >= _DIGESTS_KEPT:
            del _DIGESTS[next(iter(_DIGESTS))]
        _DIGESTS[key] = value
    return value


def unchanged(path: Path, *, size: int | None, sha256: str | None) -> bool:
    """True when the file at path is still the one recorded: its size first (cheap), then its
    bytes when their digest was recorded."""
    try:
        if path.stat().st_size != size:
            return False
    except OSError:
        return False
    return sha256 is None or file_digest(path) == sha256


def write_atomic(path: Path, data: bytes) -> None:
    """Replace path with data so that readers see the old or the new file, never a mix."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with partial.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise WriteError(
            f"{path}: cannot write ({exc.strerror}): free disk space or fix permissions; "
            "the previous file is intact"
        ) from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def move_durably(source: Path, target: Path) -> None:
    """Flush source to disk, rename it to target and make the rename durable."""
    try:
        with source.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(source, target)
    except OSError as exc:
        raise WriteError(
            f"{target}: cannot write ({exc.strerror}): free disk space or fix permissions; "
            "the previous file is intact"
        ) from None
    fsync_dir(target.parent)


def fsync_dir(folder: Path) -> None:
    """Make a rename in folder durable (best effort where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
