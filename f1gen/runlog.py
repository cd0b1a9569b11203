"""The run log: one timestamped line per event, appended under out/<name>/logs/, and a summary."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TextIO

from .events import (
    Event,
    Notice,
    RunPlanned,
    SceneAccepted,
    SceneAttemptFailed,
    SceneProgress,
    SceneStarted,
    Summary,
)
from .state import unwritable
from .words import counted


def describe(event: Event) -> str | None:
    """One line for an event, or None for the chatter only a live bar shows."""
    if isinstance(event, RunPlanned):
        return (
            f"{counted(event.total, 'scene')}: {len(event.todo)} to generate, "
            f"{len(event.skipped)} already done"
        )
    if isinstance(event, Notice):
        return event.message
    if isinstance(event, SceneStarted):
        where = f" on {event.lane}" if event.lane else ""
        return f"{event.scene.label}: attempt {event.attempt}/{event.max_attempts}{where}"
    if isinstance(event, SceneProgress):
        return f"{event.scene.id}: {event.update.message}" if event.update.notable else None
    if isinstance(event, SceneAccepted):
        return f"done {event.scene.id} in {event.seconds:.1f} s -> {event.clip}"
    if isinstance(event, SceneAttemptFailed):
        then = "retrying" if event.will_retry else "giving up on this scene"
        return f"{event.scene.label} attempt {event.attempt} failed: {event.message}; {then}"
    return None


def summary_line(summary: Summary, *, total: int, ready: int) -> str:
    """The one line that tells the morning what happened and what comes next."""
    parts = [
        f"scenes done {len(summary.done)}",
        f"ready {ready}/{total}",
        f"failed {len(summary.failed)}",
        f"remaining {total - ready}",
        f"clips made {summary.clips}",
        f"takes rejected {summary.rejected}",
        f"GPU {summary.gpu_seconds / 60:.1f} min",
    ]
    if summary.short:  # done, each with a good take: the cut can be made
        parts.insert(3, f"short of takes {len(summary.short)} ({', '.join(summary.short)})")
    if summary.wait_seconds:
        parts.append(f"backoff waits {summary.wait_seconds / 60:.1f} min")
    if summary.cpu_seconds:
        parts.append(f"CPU (rendered here) {summary.cpu_seconds / 60:.1f} min")
    if summary.stopped:
        why, step = summary.stopped, "re-run later (it resumes)"
    elif summary.failed:
        why, step = "some scenes failed after their retries", "see 'f1gen status', then re-run"
    elif ready == total and summary.short:
        why = "all scenes done, some with fewer takes than asked for"
        step = "f1gen stitch (or --stitch) makes the cut; re-run to try the missing takes again"
    elif ready == total:
        why, step = "all scenes done", "f1gen stitch (or --stitch) makes the cut"
    else:
        why, step = "nothing left to do in this run", "re-run to go on"
    return f"{'; '.join(parts)}; stopped: {why}; next: {step}"


class RunLog:
    """Appends timestamped lines to logs/generate-YYYY-MM-DD.log in the work folder."""

    def __init__(self, workdir: Path, *, redact: Callable[[str], str]) -> None:
        self.folder = workdir / "logs"
        self.redact = redact
        self._handle: TextIO | None = None

    def __enter__(self) -> RunLog:
        path = self.folder / f"generate-{datetime.now(UTC):%Y-%m-%d}.log"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._handle = path.open("a", encoding="utf-8")
        except OSError as exc:
            raise unwritable(self.folder, exc) from None
        self.line(f"run started (pid {os.getpid()})")
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if kind is not None and self._handle is not None:
            what = "interrupted" if issubclass(kind, KeyboardInterrupt) else f"ended: {exc}"
            self.line(what)
        self._close()

    def _close(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            with contextlib.suppress(OSError):
                handle.close()

    def line(self, text: str) -> None:
        """Append one line, secrets removed, flushed at once (a killed run keeps its log)."""
        if self._handle is None:
            return
        clean = " ".join(self.redact(text).split())
        try:
            self._handle.write(f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ} {clean}\n")
            self._handle.flush()
        except OSError:  # a full disk costs the log, never the run (its state is what matters)
            self._close()

    def __call__(self, event: Event) -> None:
        text = describe(event)
        if text is not None:
            self.line(text)
