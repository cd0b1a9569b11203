"""The run state: versioned JSON written atomically after every change, under a work-folder lock."""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from filelock import FileLock, Timeout

from .errors import LockedError, StateError
from .files import write_atomic

STATE_VERSION = 1
MAX_FAILURES_KEPT = 20
Status = Literal["pending", "done", "failed"]


def now_iso() -> str:
    """The current UTC time as an ISO 8601 string with seconds."""
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Failure:
    """One failed attempt: when, its class, and the message."""

    at: str
    kind: str
    message: str


@dataclass
class SceneState:
    """What the run knows about one scene."""

    id: str
    number: int
    status: Status = "pending"
    fingerprint: str | None = None
    backend: str | None = None
    steps: int | None = None
    seed: int | None = None  # the seed the clip was made with, when one was set
    clip: str | None = None
    sha256: str | None = None
    size: int | None = None
    video_seconds: float | None = None
    audio_seconds: float | None = None
    attempts: int = 0
    takes: int = 0
    gen_seconds: float = 0.0
    queue_seconds: float = 0.0
    clip_seconds: float | None = None  # the accepted take: generation time
    clip_queue_seconds: float = 0.0  # the accepted take: time in the queue
    cost_usd: float = 0.0  # money the provider charged for this scene's clips, retries included
    failures: list[Failure] = field(default_factory=list)
    remote_key: str | None = None
    remote_sha256: str | None = None
    updated_at: str | None = None

    @property
    def last_error(self) -> str | None:
        """The message of the latest failure, if any."""
        return self.failures[-1].message if self.failures else None

    def add_failure(self, kind: str, message: str) -> None:
        """Record a failed attempt, keeping the latest few."""
        self.failures.append(Failure(at=now_iso(), kind=kind, message=message))
        del self.failures[:-MAX_FAILURES_KEPT]


@dataclass
class RunState:
    """The whole state file."""

    storyboard: str
    title: str
    scenes: dict[str, SceneState] = field(default_factory=dict)
    retry_after: dict[str, str] = field(default_factory=dict)  # backend identity -> UTC time
    version: int = STATE_VERSION
    updated_at: str | None = None

    def scene(self, scene_id: str, number: int) -> SceneState:
        """The state of scene_id, created pending when new; its number follows the storyboard."""
        entry = self.scenes.get(scene_id)
        if entry is None:
            entry = self.scenes[scene_id] = SceneState(id=scene_id, number=number)
        entry.number = number
        return entry


def _scene_from(data: dict[str, Any]) -> SceneState:
    failures = [Failure(**f) for f in data.pop("failures", [])]
    return SceneState(**data, failures=failures)


def _from_json(data: Any, path: Path) -> RunState:
    if not isinstance(data, dict):
        raise StateError(f"{path}: is not an f1gen state file: move it aside to start afresh")
    version = data.get("version")
    if not isinstance(version, int) or version > STATE_VERSION:
        raise StateError(
            f"{path}: state version {version!r} is newer than this f1gen understands: upgrade f1gen"
        )
    try:
        scenes = {key: _scene_from(dict(value)) for key, value in data.get("scenes", {}).items()}
        return RunState(
            storyboard=str(data["storyboard"]),
            title=str(data.get("title", "")),
            scenes=scenes,
            retry_after=dict(data.get("retry_after") or {}),
            version=STATE_VERSION,
            updated_at=data.get("updated_at"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise StateError(
            f"{path}: damaged state ({type(exc).__name__}: {exc}): move it aside to start afresh "
            "(clips are kept)"
        ) from None


class StateStore:
    """Reads and atomically writes state.json in a work folder."""

    def __init__(self, workdir: Path) -> None:
        self.path = workdir / "state.json"

    def exists(self) -> bool:
        """True when a state file is present."""
        return self.path.is_file()

    def load(self, *, storyboard: str, title: str) -> RunState:
        """The saved state, or a fresh one when there is none yet."""
        if not self.path.exists():
            return RunState(storyboard=storyboard, title=title)
        state = self.read()
        state.storyboard, state.title = storyboard, title
        return state

    def read(self) -> RunState:
        """The saved state; StateError when missing or unreadable."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise StateError(f"{self.path}: no run state yet: run 'f1gen generate' first") from None
        except OSError as exc:
            raise StateError(f"{self.path}: cannot read: {exc.strerror}") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise StateError(
                f"{self.path}: not valid JSON (line {exc.lineno}): move it aside to start afresh "
                "(clips are kept)"
            ) from None
        return _from_json(data, self.path)

    def save(self, state: RunState) -> None:
        """Write state atomically: temp file, fsync, replace, fsync the folder."""
        state.updated_at = now_iso()
        payload = json.dumps(asdict(state), indent=2, sort_keys=False) + "\n"
        write_atomic(self.path, payload.encode("utf-8"))


@contextmanager
def work_lock(workdir: Path) -> Iterator[None]:
    """Hold the work folder for one process; LockedError at once when another holds it.

    The kernel releases the lock when its holder dies, so a killed run never leaves a stale lock.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    owner = workdir / ".lock.owner"
    lock = FileLock(str(workdir / ".lock"), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise LockedError(
            f"{workdir} is in use by {_describe_owner(owner)}: "
            "wait for that run to finish or stop it, then re-run"
        ) from None
    try:
        info = {"pid": os.getpid(), "host": socket.gethostname(), "since": now_iso()}
        owner.write_text(json.dumps(info), encoding="utf-8")
        yield
    finally:
        owner.unlink(missing_ok=True)
        lock.release()


def _describe_owner(owner: Path) -> str:
    for _ in range(3):
        try:
            info = json.loads(owner.read_text(encoding="utf-8"))
            return f"f1gen pid {info['pid']} on {info['host']} (since {info['since']})"
        except (OSError, ValueError, KeyError, TypeError):
            time.sleep(0.05)  # the holder may be writing it this instant
    return "another f1gen process"
