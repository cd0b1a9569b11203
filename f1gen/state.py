"""The run state: versioned JSON written atomically after every change, under a work-folder lock."""

from __future__ import annotations

import json
import os
import socket
import time
import types
import typing
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from filelock import FileLock, Timeout

from .errors import BadInputError, LockedError, StateError, WriteError
from .files import write_atomic

STATE_VERSION = 2  # 2: every take of a scene recorded (1: one clip per scene)
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
class TakeRecord:
    """One take of a scene, kept whatever became of it: a rejected take was paid for too."""

    name: str  # the file name in clips/ (TakeStore names it)
    clip: str  # relative to the work folder
    fingerprint: str
    seed: int | None = None  # what the backend was asked for (None: its own choice)
    backend: str | None = None
    steps: int | None = None
    video_seconds: float | None = None
    audio_seconds: float | None = None
    sha256: str | None = None
    size: int | None = None
    cost_usd: float = 0.0
    rejected: bool = False  # failed a hard check: kept, never picked
    checks: str | None = None  # its checks in a few words (None: not checked)
    made_at: str | None = None
    voice: float | None = None  # similarity to its character's reference (None: not judged)


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
    takes: list[TakeRecord] = field(default_factory=list)  # every take, in the order made
    pick: str | None = None  # a take picked by hand (f1gen pick); None: picked by its checks
    pick_reason: str | None = None  # why the scene's clip is the take it is
    gen_seconds: float = 0.0  # on a GPU (the backend's), failed attempts included
    queue_seconds: float = 0.0  # waiting in a provider's queue
    wait_seconds: float = 0.0  # backing off from a busy or unreachable backend: no GPU ran
    cpu_seconds: float = 0.0  # rendered on this machine (the animatic): no GPU ran
    clip_seconds: float | None = None  # the accepted take: generation (or rendering) time
    clip_queue_seconds: float = 0.0  # the accepted take: time in the queue
    cost_usd: float = 0.0  # money the provider charged for this scene's clips, retries included
    failures: list[Failure] = field(default_factory=list)
    remote_key: str | None = None
    remote_sha256: str | None = None
    updated_at: str | None = None
    interrupted: int = 0  # attempts started but never finished (a kill, Ctrl-C, a crash)
    # A done scene with fewer good takes than asked for: how many, and why (None: not short).
    shortfall: str | None = None

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

    storyboard: str  # the storyboard's resolved path
    title: str
    scenes: dict[str, SceneState] = field(default_factory=dict)
    retry_after: dict[str, str] = field(default_factory=dict)  # backend identity -> UTC time
    retry_account: dict[str, str] = field(default_factory=dict)  # backend identity -> account
    version: int = STATE_VERSION
    updated_at: str | None = None
    source: str | None = None  # the storyboard's path from the folder f1gen ran in

    def scene(self, scene_id: str, number: int) -> SceneState:
        """The state of scene_id, created pending when new; its number follows the storyboard."""
        entry = self.scenes.get(scene_id)
        if entry is None:
            entry = self.scenes[scene_id] = SceneState(id=scene_id, number=number)
        entry.number = number
        return entry


def source_of(storyboard: str) -> str:
    """A storyboard's path seen from the current folder: the same in a copy of the project or on
    another machine, unlike its resolved path."""
    return Path(os.path.relpath(storyboard)).as_posix()


def belongs_to(state: RunState, storyboard: str, *, here: bool) -> bool:
    """True when state was made for storyboard (a resolved path).

    The same resolved path, or the same path from the project folder (a copied or moved project,
    another machine), is the same storyboard. here: the state is this machine's own, so when the
    storyboard it names no longer exists, it was moved or renamed, and this one adopts the state.
    """
    if state.storyboard == storyboard:
        return True
    if state.source is not None and state.source == source_of(storyboard):
        return True
    return here and not Path(state.storyboard).exists()


DAMAGED = "move it aside to start afresh (clips are kept)"


class _Damaged(Exception):
    """Content no f1gen wrote, with its place in the file."""


class _Untrusted(Exception):
    """A path that points outside the work folder's clips/."""


_SCENE_HINTS = typing.get_type_hints(SceneState)
_RUN_HINTS = typing.get_type_hints(RunState)


def _check_value(place: str, value: Any, hint: Any) -> Any:
    """value when it has the JSON shape of the type hint, else _Damaged naming place."""
    if typing.get_origin(hint) in (types.UnionType, typing.Union):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        hint = next(option for option in options if option is not type(None))
    origin = typing.get_origin(hint)
    if origin is Literal:
        if value not in typing.get_args(hint):
            raise _Damaged(
                f"{place}: {value!r:.40} is not one of {', '.join(typing.get_args(hint))}"
            )
        return value
    if origin is dict:
        if not isinstance(value, dict):
            raise _Damaged(f"{place}: expected a mapping")
        return {str(k): _check_value(f"{place}.{k}", v, str) for k, v in value.items()}
    if origin is list:
        if not isinstance(value, list):
            raise _Damaged(f"{place}: expected a list")
        (item_type,) = typing.get_args(hint)
        read = _failure if item_type is Failure else _take
        return [read(f"{place}[{n}]", item) for n, item in enumerate(value)]
    if hint is bool:
        if not isinstance(value, bool):
            raise _Damaged(f"{place}: expected true or false, found {value!r:.40}")
        return value
    wanted: tuple[type, ...] = {int: (int,), float: (int, float), str: (str,)}[hint]
    if isinstance(value, bool) or not isinstance(value, wanted):
        raise _Damaged(f"{place}: expected {hint.__name__}, found {value!r:.40}")
    return float(typing.cast(float, value)) if hint is float else value


def _failure(place: str, value: Any) -> Failure:
    if not isinstance(value, dict) or set(value) != {"at", "kind", "message"}:
        raise _Damaged(f"{place}: expected a failure with at, kind and message")
    return Failure(**{k: _check_value(f"{place}.{k}", v, str) for k, v in value.items()})


_TAKE_HINTS = typing.get_type_hints(TakeRecord)


def _take(place: str, value: Any) -> TakeRecord:
    if not isinstance(value, dict):
        raise _Damaged(f"{place}: expected a take")
    unknown = sorted(set(value) - set(_TAKE_HINTS))
    if unknown:
        raise _Damaged(f"{place}.{unknown[0]}: unknown field")
    missing = [name for name in ("name", "clip", "fingerprint") if name not in value]
    if missing:
        raise _Damaged(f"{place}.{missing[0]}: is missing")
    return TakeRecord(
        **{k: _check_value(f"{place}.{k}", v, _TAKE_HINTS[k]) for k, v in value.items()}
    )


def _migrate(data: dict[str, Any]) -> dict[str, Any]:
    """A version 1 state as version 2: a scene's one clip becomes its one take."""
    scenes = data.get("scenes")
    if isinstance(scenes, dict):
        for entry in scenes.values():
            if not isinstance(entry, dict):
                continue  # found damaged below, with its place
            entry.pop("takes", None)  # a count in version 1
            clip = entry.get("clip")
            if isinstance(clip, str) and entry.get("status") == "done":
                entry["takes"] = [
                    {
                        "name": Path(clip).name,
                        "clip": clip,
                        "fingerprint": entry.get("fingerprint") or "",
                        "seed": entry.get("seed"),
                        "backend": entry.get("backend"),
                        "steps": entry.get("steps"),
                        "video_seconds": entry.get("video_seconds"),
                        "audio_seconds": entry.get("audio_seconds"),
                        "sha256": entry.get("sha256"),
                        "size": entry.get("size"),
                        "cost_usd": entry.get("cost_usd", 0.0),
                    }
                ]
    return {**data, "version": STATE_VERSION}


def _scene_from(key: str, data: Any, workdir: Path) -> SceneState:
    place = f"scenes.{key}"
    if not isinstance(data, dict):
        raise _Damaged(f"{place}: expected a mapping")
    unknown = sorted(set(data) - set(_SCENE_HINTS))
    if unknown:
        raise _Damaged(f"{place}.{unknown[0]}: unknown field")
    missing = [name for name in ("id", "number") if name not in data]
    if missing:
        raise _Damaged(f"{place}.{missing[0]}: is missing")
    values = {k: _check_value(f"{place}.{k}", v, _SCENE_HINTS[k]) for k, v in data.items()}
    if values["id"] != key:
        raise _Damaged(f"{place}.id: {values['id']!r:.40} is not the scene's key")
    entry = SceneState(**values)
    for clip in [entry.clip, *(take.clip for take in entry.takes)]:
        if clip is not None and not _inside_clips(clip, workdir):
            raise _Untrusted(
                f"scene {entry.id!r}, field clip: {clip!r:.80} is not a file in {workdir / 'clips'}"
            )
    return entry


def _inside_clips(clip: str, workdir: Path) -> bool:
    """True when clip names a file inside workdir's clips/, symbolic links followed."""
    if not clip or "\0" in clip or Path(clip).is_absolute():
        return False
    clips = (workdir / "clips").resolve()
    return clips in (workdir / clip).resolve().parents


def parse_state(data: Any, *, origin: str, workdir: Path) -> RunState:
    """A RunState from parsed JSON; StateError naming origin and the fix when it is damaged,
    newer, or names a clip outside workdir's clips/ (whoever wrote it: a bucket is not trusted)."""
    if not isinstance(data, dict) or "version" not in data:
        raise StateError(f"{origin}: is not an f1gen state file: {DAMAGED}")
    version = data["version"]
    newer = isinstance(version, int) and not isinstance(version, bool) and version > STATE_VERSION
    if newer:
        raise StateError(
            f"{origin}: state version {version} is newer than this f1gen understands: upgrade f1gen"
        )
    if version == 1 and not isinstance(version, bool):
        data = _migrate(data)
        version = STATE_VERSION
    if version != STATE_VERSION or isinstance(version, bool):
        raise StateError(
            f"{origin}: is not an f1gen state file or is damaged (version {version!r:.20}): "
            f"{DAMAGED}"
        )
    try:
        unknown = sorted(set(data) - set(_RUN_HINTS))
        if unknown:
            raise _Damaged(f"{unknown[0]}: unknown field")
        if "storyboard" not in data:
            raise _Damaged("storyboard: is missing")
        values: dict[str, Any] = {
            k: _check_value(k, v, _RUN_HINTS[k]) for k, v in data.items() if k != "scenes"
        }
        scenes = data.get("scenes", {})
        if not isinstance(scenes, dict):
            raise _Damaged("scenes: expected a mapping of scene ids")
        values["scenes"] = {str(k): _scene_from(str(k), v, workdir) for k, v in scenes.items()}
        for identity, until in values.get("retry_after", {}).items():
            try:
                datetime.fromisoformat(until)
            except ValueError:
                raise _Damaged(f"retry_after.{identity}: {until!r:.40} is not a time") from None
        return RunState(**values)
    except _Damaged as exc:
        raise StateError(f"{origin}: damaged state ({exc}): {DAMAGED}") from None
    except _Untrusted as exc:
        raise StateError(f"{origin}: {exc}: the state is not trusted; {DAMAGED}") from None


class StateStore:
    """Reads and atomically writes state.json in a work folder."""

    def __init__(self, workdir: Path) -> None:
        self.path = workdir / "state.json"

    def exists(self) -> bool:
        """True when a state file is present."""
        return self.path.is_file()

    def load(self, *, storyboard: str, title: str) -> RunState:
        """The saved state, or a fresh one when there is none yet.

        A state made for another storyboard (the same file name in another folder) is refused:
        the two would mix their clips and cuts.
        """
        if not self.path.exists():
            return RunState(storyboard=storyboard, title=title, source=source_of(storyboard))
        state = self.read()
        if not belongs_to(state, storyboard, here=True):
            raise BadInputError(
                f"{self.path} belongs to the storyboard {state.source or state.storyboard}, not "
                f"{source_of(storyboard)}: give this one its own work folder (--workdir "
                f"{self.path.parent}-2) or rename it"
            )
        state.storyboard, state.title, state.source = storyboard, title, source_of(storyboard)
        return state

    def read(self) -> RunState:
        """The saved state; StateError when missing, unreadable, damaged or untrusted."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            raise StateError(f"{self.path}: no run state yet: run 'f1gen generate' first") from None
        except OSError as exc:
            raise StateError(
                f"{self.path}: cannot read ({exc.strerror}): fix its permissions"
            ) from None
        return self.parse(raw, origin=str(self.path))

    def parse(self, raw: bytes, *, origin: str) -> RunState:
        """A state file's bytes (read here or fetched from a bucket), checked for this folder."""
        try:
            data = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise StateError(
                f"{origin}: is not an f1gen state file (not UTF-8 text): {DAMAGED}"
            ) from None
        except json.JSONDecodeError as exc:
            raise StateError(f"{origin}: not valid JSON (line {exc.lineno}): {DAMAGED}") from None
        except RecursionError:
            raise StateError(
                f"{origin}: is not an f1gen state file (nested too deep): {DAMAGED}"
            ) from None
        return parse_state(data, origin=origin, workdir=self.path.parent)

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
    owner = workdir / ".lock.owner"
    lock = FileLock(str(workdir / ".lock"), timeout=0)
    try:
        workdir.mkdir(parents=True, exist_ok=True)
        lock.acquire()
    except Timeout:
        raise LockedError(
            f"{workdir} is in use by {_describe_owner(owner)}: "
            "wait for that run to finish or stop it, then re-run"
        ) from None
    except OSError as exc:
        raise unwritable(workdir, exc) from None
    try:
        info = {"pid": os.getpid(), "host": socket.gethostname(), "since": now_iso()}
        try:
            owner.write_text(json.dumps(info), encoding="utf-8")
        except OSError as exc:
            raise unwritable(workdir, exc) from None
        yield
    finally:
        owner.unlink(missing_ok=True)
        lock.release()


def unwritable(folder: Path, exc: OSError) -> WriteError:
    """The one-line error for a work folder that cannot be written."""
    return WriteError(
        f"{folder}: cannot write ({exc.strerror}): fix its permissions or free disk space, "
        "or give another work folder with --workdir"
    )


def _describe_owner(owner: Path) -> str:
    for _ in range(3):
        try:
            info = json.loads(owner.read_text(encoding="utf-8"))
            return f"f1gen pid {info['pid']} on {info['host']} (since {info['since']})"
        except (OSError, ValueError, KeyError, TypeError):
            time.sleep(0.05)  # the holder may be writing it this instant
    return "another f1gen process"
