"""Durable file operations: digests, atomic replacement, fsync of folders."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .errors import WriteError


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


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
