"""What a generate run tells the outside while it runs (events), and at its end (a summary).

The runner emits these; the CLI's view and the run log render them. Neither needs the runner.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .backends import BackendUpdate
    from .scene import Scene


@dataclass(frozen=True)
class RunPlanned:
    """The plan: scenes to make, and scenes already done."""

    todo: tuple[Scene, ...]
    skipped: tuple[Scene, ...]
    total: int


@dataclass(frozen=True)
class Notice:
    """Something worth a line that belongs to no scene (connecting, retrying a connection)."""

    message: str


@dataclass(frozen=True)
class SceneStarted:
    """An attempt at a scene begins."""

    scene: Scene
    attempt: int
    max_attempts: int
    lane: str | None = None  # which endpoint, when there are several


@dataclass(frozen=True)
class SceneProgress:
    """The backend reported progress on the current scene."""

    scene: Scene
    update: BackendUpdate


@dataclass(frozen=True)
class SceneAccepted:
    """A clip passed its checks and is now the scene's clip."""

    scene: Scene
    clip: Path
    seconds: float


@dataclass(frozen=True)
class SceneAttemptFailed:
    """An attempt failed; will_retry tells whether another follows."""

    scene: Scene
    attempt: int
    message: str
    will_retry: bool


Event = RunPlanned | Notice | SceneStarted | SceneProgress | SceneAccepted | SceneAttemptFailed
Emit = Callable[[Event], None]


@dataclass
class Summary:
    """What a run did."""

    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    short: list[str] = field(default_factory=list)  # done, with fewer good takes than asked for
    remaining: list[str] = field(default_factory=list)
    uploaded: list[str] = field(default_factory=list)
    local_only: list[str] = field(default_factory=list)
    seconds: float = 0.0
    gpu_seconds: float = 0.0  # generating on a GPU
    wait_seconds: float = 0.0  # backing off from a busy or unreachable backend
    cpu_seconds: float = 0.0  # rendering on this machine
    cost_usd: float = 0.0
    clips: int = 0  # clips that came back (every take, rejected ones too): what --max-clips counts
    rejected: int = 0  # of them, takes that failed a hard check (kept, never picked)
    stopped: str | None = None  # why the run stopped early (resumable), if it did
    held: list[str] = field(default_factory=list)  # scenes whose request may already be paid
    retry_at: datetime | None = None

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready view."""
        return {
            "stopped": self.stopped,
            "held": self.held,
            "retry_at": self.retry_at.isoformat() if self.retry_at else None,
            "gpu_seconds": round(self.gpu_seconds, 1),
            "wait_seconds": round(self.wait_seconds, 1),
            "cpu_seconds": round(self.cpu_seconds, 1),
            "cost_usd": round(self.cost_usd, 4),
            "generated": self.done,
            "clips": self.clips,
            "rejected": self.rejected,
            "skipped": self.skipped,
            "failed": self.failed,
            "short": self.short,
            "remaining": self.remaining,
            "uploaded": self.uploaded,
            "local_only": self.local_only,
            "seconds": round(self.seconds, 3),
        }
