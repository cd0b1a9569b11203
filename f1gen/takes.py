"""The clips folder: every scene's takes, one file each, never replaced.

A take is named `<number>-<scene id>-<fingerprint[:8]>.mp4`, and the next takes of the same
fingerprint `...-take2.mp4`, `...-take3.mp4`: this module alone writes and reads that name. An
attempt writes its clip to a partial file first (`.partial-<scene id>-<pid>.mp4`). A clip that
comes back gets its take's name at once (kept), beside the older takes, so that nothing paid for
is lost if the run dies while the clip is checked; one that fails its checks is discarded, and
only one that passed them enters the state (settled). A take found on disk is checked before it
is used.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from .errors import MediaError, WriteError
from .files import fsync_dir
from .scene import Scene

T = TypeVar("T")
PARTIAL = ".partial-"
PROBE_BYTES = 64 * 1024


@dataclass(frozen=True)
class Take:
    """One clip of a scene: its number among the takes of its fingerprint, its file, and the
    fingerprint it was made under."""

    number: int
    path: Path
    fingerprint: str


def free_bytes(folder: Path) -> int:
    """The room left on the filesystem that holds folder (or would, once it is made)."""
    place = folder
    while not place.exists() and place != place.parent:
        place = place.parent
    return shutil.disk_usage(place).free


def megabytes(count: int) -> str:
    """A size as people read it: '4.4 MB'."""
    return f"{count / 1e6:.1f} MB"


class TakeStore:
    """The takes in a work folder's clips/ (free: how its room is measured)."""

    def __init__(self, folder: Path, *, free: Callable[[Path], int] = free_bytes) -> None:
        self.folder = folder
        self.free = free

    def name(self, scene: Scene, fingerprint: str, number: int = 1) -> str:
        """The file name of take number of scene under fingerprint."""
        extra = f"-take{number}" if number > 1 else ""
        return f"{self._base(scene, fingerprint)}{extra}.mp4"

    def takes(self, scene: Scene, fingerprint: str) -> list[Take]:
        """The takes of scene made under fingerprint that are on disk, newest first."""
        base = self._base(scene, fingerprint)
        pattern = re.compile(rf"{re.escape(base)}(?:-take(\d+))?\.mp4")
        found = []
        for path in self.folder.glob(f"{base}*.mp4"):  # ids are slugs: no glob characters
            match = pattern.fullmatch(path.name)
            if match is None:
                continue
            with contextlib.suppress(OSError):  # gone meanwhile: not a take any more
                found.append((path.stat().st_mtime, Take(int(match[1] or 1), path, fingerprint)))
        return [take for _, take in sorted(found, key=lambda pair: pair[0], reverse=True)]

    def find(
        self,
        scene: Scene,
        fingerprint: str,
        *,
        check: Callable[[Path], T],
        exclude: Path | None = None,
    ) -> tuple[Take, T] | None:
        """The newest take of scene under fingerprint that passes check (MediaError: it does
        not), and what check said of it; exclude: a file already judged, never that one."""
        for take in self.takes(scene, fingerprint):
            if take.path == exclude:
                continue
            try:
                return take, check(take.path)
            except MediaError:
                continue
        return None

    def partial(self, scene: Scene) -> Path:
        """Where an attempt at scene writes its clip until the clip passes its checks."""
        return self.folder / f"{PARTIAL}{scene.id}-{os.getpid()}.mp4"

    def keep(self, scene: Scene, fingerprint: str, partial: Path) -> Take:
        """Give a clip that came back its own take's name beside the older takes (a second
        name for the partial's bytes: the partial keeps its name until the checks are done)."""
        number = 1
        while True:
            final = self.folder / self.name(scene, fingerprint, number)
            try:
                _link_new(partial, final)
            except FileExistsError:
                number += 1
                continue
            except OSError as exc:
                raise WriteError(
                    f"{final}: cannot write ({exc.strerror}): free disk space or fix "
                    "permissions; the previous takes are intact"
                ) from None
            return Take(number, final, fingerprint)

    def settle(self, take: Take, partial: Path) -> None:
        """The take passed its checks: make it durable and drop the partial's name."""
        try:
            with take.path.open("rb") as handle:
                os.fsync(handle.fileno())
        except OSError as exc:
            raise WriteError(
                f"{take.path}: cannot write ({exc.strerror}): free disk space or fix permissions"
            ) from None
        fsync_dir(self.folder)
        with contextlib.suppress(OSError):  # else the next run cleans it away
            partial.unlink(missing_ok=True)

    def discard(self, take: Take, partial: Path) -> None:
        """The clip failed its checks: neither of its names stays."""
        for path in (take.path, partial):
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)

    def clean_partials(self) -> None:
        """Remove what a killed run left half-written; takes are never touched."""
        if self.folder.is_dir():
            for partial in self.folder.glob(f"{PARTIAL}*"):
                partial.unlink(missing_ok=True)

    def check_writable(self) -> None:
        """WriteError when the folder cannot take a clip: a clip it cannot hold would be paid
        for and lost, and so would every retry."""
        probe = self.folder / f"{PARTIAL}probe-{os.getpid()}"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with probe.open("wb") as handle:
                handle.write(bytes(PROBE_BYTES))
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise WriteError(
                f"{self.folder}: cannot write a clip ({exc.strerror}): fix the folder's "
                "permissions or free disk space, then re-run; nothing more was spent"
            ) from None
        finally:
            with contextlib.suppress(OSError):
                probe.unlink(missing_ok=True)

    def room_short(self, needed: int) -> WriteError | None:
        """The error to stop with when the folder has less than needed bytes free, else None.

        The write probe above passes with room for much less than a clip: every call would be
        paid for and its clip lost for want of room (a full disk looks like a failed run).
        """
        free = self.free(self.folder)
        if free >= needed:
            return None
        return WriteError(
            f"{self.folder}: no room for the next clip ({megabytes(free)} free, "
            f"{megabytes(needed)} needed): free disk space or give another work folder with "
            "--workdir, then re-run (it resumes); nothing more was spent"
        )

    def _base(self, scene: Scene, fingerprint: str) -> str:
        return f"{scene.number:02d}-{scene.id}-{fingerprint[:8]}"


def _link_new(source: Path, target: Path) -> None:
    """A second name for source's bytes; a copy where the file system has no hard links.
    FileExistsError when target exists: nothing is ever replaced."""
    try:
        os.link(source, target)
        return
    except FileExistsError:
        raise
    except OSError:
        pass  # no hard links here (FAT, some network shares): a copy
    with source.open("rb") as reader:
        writer = target.open("xb")  # FileExistsError before anything is written
        try:
            with writer:
                shutil.copyfileobj(reader, writer)
        except BaseException:
            target.unlink(missing_ok=True)
            raise
