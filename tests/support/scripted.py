"""A scripted backend that writes real files, and the takes it can be scripted with."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from f1gen.backends import BackendUpdate, ClipRequest, ClipTiming, Report
from f1gen.backends.traits import OVI_SPEC
from f1gen.errors import F1genError, GenerationError
from tests.support.mediatools import MarkerClip


class ScriptedBackend:
    """A real backend that writes real files: takes come from a script, one per call."""

    name = "scripted"
    spec = OVI_SPEC

    def __init__(self, takes: list[Callable[[Path], None]]) -> None:
        self.takes = list(takes)
        self.calls: list[str] = []

    @property
    def identity(self) -> str:
        return "scripted:1"

    @property
    def account(self) -> str:
        return "scripted"

    def prepare(self, report: Report) -> None:
        pass

    def close(self) -> None:
        pass

    def interrupt(self) -> None:
        pass

    def generate(self, request: ClipRequest, dest: Path, report: Report) -> ClipTiming:
        self.calls.append(request.scene.id)
        report(BackendUpdate("working", 0.5))
        self.takes.pop(0)(dest)
        return ClipTiming(queue_seconds=0.0)


def good(clip: MarkerClip) -> Callable[[Path], None]:
    return lambda dest: shutil.copyfile(clip.path, dest)


def truncated(clip: MarkerClip) -> Callable[[Path], None]:
    return lambda dest: dest.write_bytes(clip.path.read_bytes()[: clip.path.stat().st_size // 2])


def failing(message: str, *, error: type[F1genError] = GenerationError) -> Callable[[Path], None]:
    def take(dest: Path) -> None:
        raise error(message)

    return take
