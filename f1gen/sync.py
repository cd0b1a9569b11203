"""Keeping the bucket in step with the work folder: background uploads, push, fetch for a stitch."""

from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import BadInputError, StorageUnavailable
from .files import file_digest, write_atomic
from .plan import expected_fingerprint
from .scene import Storyboard
from .state import RunState, SceneState, StateStore, belongs_to, source_of, work_lock

if TYPE_CHECKING:
    from .storage import Storage, Uploaded

STATE_KEY = "state.json"


def clip_metadata(entry: SceneState) -> dict[str, str]:
    """What a clip object carries besides its sha256."""
    return {"scene": entry.id, "fingerprint": entry.fingerprint or ""}


def is_uploaded(entry: SceneState, storage: Storage) -> bool:
    """True when the scene's current clip is in the bucket with the same checksum."""
    return (
        entry.status == "done"
        and entry.clip is not None
        and entry.remote_key == storage.key(entry.clip)
        and entry.remote_sha256 == entry.sha256
    )


class Uploader:
    """Uploads accepted clips on one background thread while the next clip is generated.

    Results are applied to the state by the runner's thread alone (one writer).
    """

    def __init__(self, storage: Storage, workdir: Path) -> None:
        self.storage = storage
        self.workdir = workdir
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="f1gen-upload")
        self._pending: dict[str, Future[Uploaded]] = {}
        self.down: StorageUnavailable | None = None

    def submit(self, entry: SceneState) -> None:
        """Queue the upload of entry's clip (once storage failed in this run, nothing is sent)."""
        if self.down is not None or entry.clip is None or is_uploaded(entry, self.storage):
            return
        clip, sha256, meta = self.workdir / entry.clip, entry.sha256, clip_metadata(entry)
        relative = entry.clip
        self._pending[entry.id] = self._pool.submit(
            lambda: self.storage.upload(clip, relative, metadata=meta, sha256=sha256)
        )

    def collect(self, state: RunState, *, wait: bool) -> list[str]:
        """Record finished uploads in state; the scene ids recorded. Raises what will not pass."""
        recorded = []
        for scene_id, future in list(self._pending.items()):
            if not wait and not future.done():
                continue
            del self._pending[scene_id]
            try:
                uploaded = future.result()
            except StorageUnavailable as exc:
                self.down = self.down or exc
                continue
            entry = state.scenes[scene_id]
            entry.remote_key, entry.remote_sha256 = uploaded.key, uploaded.sha256
            recorded.append(scene_id)
        return recorded

    def close(self) -> None:
        """Stop; uploads not started are dropped (push or the next run sends them)."""
        self._pool.shutdown(wait=False, cancel_futures=True)


@dataclass
class PushResult:
    """What a push did."""

    sent: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    links: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready view."""
        return {
            "sent": self.sent,
            "already": self.already,
            "files": self.files,
            "links": self.links,
        }


def push(
    storyboard: Storyboard, *, workdir: Path, storage: Storage, extra: list[Path]
) -> PushResult:
    """Send every clip (and the given side files, and the state) the bucket does not have yet."""
    result = PushResult()
    store = StateStore(workdir)
    with work_lock(workdir):
        check_bucket(storyboard, workdir=workdir, storage=storage)
        state = store.load(storyboard=str(storyboard.path), title=storyboard.title)
        try:
            for entry in state.scenes.values():
                clip = workdir / entry.clip if entry.clip else None
                if entry.status != "done" or clip is None or not clip.is_file():
                    continue
                uploaded = storage.upload(
                    clip, str(entry.clip), metadata=clip_metadata(entry), sha256=entry.sha256
                )
                entry.remote_key, entry.remote_sha256 = uploaded.key, uploaded.sha256
                (result.sent if uploaded.sent else result.already).append(entry.id)
        finally:
            store.save(state)
        for path in extra:
            if path.is_file():
                uploaded = storage.upload(path, path.name)
                result.files.append(uploaded.key)
                result.links[path.name] = storage.link(uploaded.key)
        upload_state(workdir, storage)
    return result


def upload_state(workdir: Path, storage: Storage) -> None:
    """Put the state file in the bucket, so that a cut can be made elsewhere from the bucket."""
    store = StateStore(workdir)
    if store.exists():
        storage.upload(store.path, STATE_KEY)


def bucket_state(
    storyboard: Storyboard, *, workdir: Path, storage: Storage
) -> tuple[RunState, bytes] | None:
    """The state in the bucket and its bytes, when it is not the same as the local one.

    It is checked like a local state (paths inside clips/), and must belong to this storyboard:
    two storyboards with the same file name would otherwise share a prefix and mix their runs.
    """
    remote = storage.remote_sha256(storage.key(STATE_KEY))
    store = StateStore(workdir)
    if remote is None or (store.exists() and file_digest(store.path) == remote):
        return None
    partial = workdir / "tmp" / f".partial-bucket-state-{os.getpid()}.json"
    try:
        storage.download(STATE_KEY, partial, sha256=remote)
        raw = partial.read_bytes()
    finally:
        partial.unlink(missing_ok=True)
    state = store.parse(raw, origin=f"{storage.where}/{STATE_KEY}")
    mine = str(storyboard.path)
    if not belongs_to(state, mine, here=False):
        raise BadInputError(
            f"{storage.where} holds the run of the storyboard {state.source or state.storyboard}, "
            f"not {source_of(mine)}: give this one its own work folder and bucket prefix "
            f"(--workdir {workdir}-2) or rename it"
        )
    return state, raw


def check_bucket(storyboard: Storyboard, *, workdir: Path, storage: Storage) -> None:
    """BadInputError when the bucket prefix holds another storyboard's run."""
    bucket_state(storyboard, workdir=workdir, storage=storage)


def fetch_missing(storyboard: Storyboard, *, workdir: Path, storage: Storage) -> list[str]:
    """Download the clips a stitch needs that are in the bucket but not here (state too).

    Nothing is written unless the bucket's state belongs to this storyboard and names only
    clips inside the work folder's clips/.
    """
    store = StateStore(workdir)
    try:
        fetched_state = bucket_state(storyboard, workdir=workdir, storage=storage)
    except StorageUnavailable:
        fetched_state = None  # the cut can still be made from the clips here
    if not store.exists():
        if fetched_state is None:
            return []
        write_atomic(store.path, fetched_state[1])
    state = store.read()
    fetched = []
    for scene in storyboard.scenes:
        entry = state.scenes.get(scene.id)
        if not scene.generated or entry is None or entry.status != "done" or not entry.clip:
            continue
        if entry.remote_key is None or entry.fingerprint != expected_fingerprint(scene, entry):
            continue
        local = workdir / entry.clip
        if local.is_file() and local.stat().st_size == entry.size:
            continue
        storage.download(entry.clip, local, sha256=entry.sha256)
        fetched.append(scene.id)
    return fetched
