"""The generate loop: plan, prepare, generate, check, accept; the state saved after every change."""

from __future__ import annotations

import contextlib
import itertools
import os
import queue
import re
import shutil
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import costs, images, media
from .backends import Backend, BackendUpdate, ClipRequest, ClipTiming
from .errors import (
    BackendBusy,
    BadInputError,
    ClipRejected,
    ConfigError,
    F1genError,
    GenerationError,
    MediaError,
    QuotaExceeded,
    ResumableStop,
    StorageUnavailable,
    WriteError,
)
from .files import file_digest, move_durably
from .plan import PlannedScene, clip_is_current, plan_scene, scene_steps
from .schedule import Limits, stop_reason
from .state import RunState, SceneState, StateStore, unwritable, work_lock
from .storyboard import Scene, Storyboard
from .sync import Uploader, check_bucket, is_uploaded, upload_state

if TYPE_CHECKING:
    from .storage import Storage

DEFAULT_ATTEMPTS = 3
# The seed document's timings per clip, by sample steps (GPU seconds).
STEP_TIMINGS = ((20, 30.0), (40, 60.0), (50, 90.0))
DAILY_QUOTA_SECONDS = {"free": 5 * 60, "pro": 40 * 60}


def estimate_seconds(steps: int) -> float:
    """GPU seconds one clip takes at steps, interpolated from the seed's timings."""
    points = STEP_TIMINGS
    if steps <= points[0][0]:
        return points[0][1] * steps / points[0][0]
    for (s0, t0), (s1, t1) in itertools.pairwise(points):
        if steps <= s1:
            return t0 + (t1 - t0) * (steps - s0) / (s1 - s0)
    s_last, t_last = points[-1]
    return t_last * steps / s_last


def parse_only(spec: str, storyboard: Storyboard) -> frozenset[int]:
    """Scene numbers picked by '3,5-7,pit-wall'; BadInputError naming what does not match."""
    ids = {scene.id: scene.number for scene in storyboard.scenes}
    count = len(storyboard.scenes)
    picked: set[int] = set()
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        match = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if match:
            first = int(match.group(1))
            last = int(match.group(2) or first)
            if first > last:
                raise BadInputError(f"--only {part!r}: the range is reversed: write {last}-{first}")
            if not 1 <= first <= last <= count:
                raise BadInputError(f"--only {part!r}: scenes are numbered 1-{count}")
            picked.update(range(first, last + 1))
        elif part in ids:
            picked.add(ids[part])
        else:
            raise BadInputError(f"--only {part!r}: no scene has that number or id")
    if not picked:
        raise BadInputError("--only: name at least one scene number or id")
    return frozenset(picked)


@dataclass(frozen=True)
class RunOptions:
    """How one generate run behaves."""

    only: frozenset[int] | None = None
    force: bool = False
    max_attempts: int = DEFAULT_ATTEMPTS
    default_steps: int = 40  # OVI_SAMPLE_STEPS or 40: the storyboard's defaults beat it
    steps: int | None = None  # --sample-steps: beats the storyboard's defaults, not a scene's own
    default_seed: int | None = None  # --seed: for scenes that set none
    create_bucket: bool = False
    limits: Limits = field(default_factory=Limits)


# Events the runner emits; the CLI renders them.
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
    remaining: list[str] = field(default_factory=list)
    uploaded: list[str] = field(default_factory=list)
    local_only: list[str] = field(default_factory=list)
    seconds: float = 0.0
    gpu_seconds: float = 0.0
    cost_usd: float = 0.0
    stopped: str | None = None  # why the run stopped early (resumable), if it did
    retry_at: datetime | None = None

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready view."""
        return {
            "stopped": self.stopped,
            "retry_at": self.retry_at.isoformat() if self.retry_at else None,
            "gpu_seconds": round(self.gpu_seconds, 1),
            "cost_usd": round(self.cost_usd, 4),
            "generated": self.done,
            "skipped": self.skipped,
            "failed": self.failed,
            "remaining": self.remaining,
            "uploaded": self.uploaded,
            "local_only": self.local_only,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class Expected:
    """How long the next clip should take: in all (queue included), and on the GPU."""

    total: float
    gpu: float


def expected_seconds(state: RunState, steps: int) -> Expected:
    """The median of the clips made so far, or the seed's estimate for steps when none are."""
    made = [e for e in state.scenes.values() if e.status == "done" and e.clip_seconds is not None]
    if not made:
        guess = estimate_seconds(steps)
        return Expected(total=guess, gpu=guess)
    gpu = statistics.median(e.clip_seconds or 0.0 for e in made)
    total = statistics.median((e.clip_seconds or 0.0) + e.clip_queue_seconds for e in made)
    return Expected(total=total, gpu=gpu)


def _next_step(limits: Limits) -> str:
    if limits.window is not None:
        return "the next run in the window goes on"
    return "re-run to go on"


def failure_kind(exc: F1genError) -> str:
    """A short class for a failure, as the state and status show it."""
    if isinstance(exc, ClipRejected):
        return "rejected"
    if isinstance(exc, QuotaExceeded):
        return "quota"
    if isinstance(exc, BackendBusy):
        return "busy"
    if isinstance(exc, GenerationError):
        return "failed run"
    if isinstance(exc, MediaError):
        return "media"
    return "config" if exc.exit_code == 3 else "error"


class Runner:
    """Generates a storyboard's clips into a work folder, resumably."""

    def __init__(
        self,
        storyboard: Storyboard,
        *,
        workdir: Path,
        lanes: Sequence[Backend],
        emit: Emit = lambda event: None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        storage: Storage | None = None,
    ) -> None:
        self.storyboard = storyboard
        self.lanes = list(lanes)  # one backend's lanes: endpoints, or a hosted queue's places
        self.identities = {lane.identity for lane in self.lanes}
        self.now = now
        self.sleep = sleep
        self.clock = clock
        self.storage = storage
        self.workdir = workdir
        self.emit = emit
        self.store = StateStore(workdir)
        self.clips_dir = workdir / "clips"
        self.images_dir = workdir / "images"

    def plan(self, options: RunOptions, state: RunState) -> tuple[list[PlannedScene], list[Scene]]:
        """Scenes to generate now, and selected scenes whose clip is already current."""
        todo: list[PlannedScene] = []
        skipped: list[Scene] = []
        for scene in self.storyboard.scenes:
            if not scene.generated or (options.only and scene.number not in options.only):
                continue
            entry = state.scenes.get(scene.id)
            made_by = entry.backend if entry is not None else None
            identity = made_by if made_by in self.identities else self.lanes[0].identity
            steps = scene_steps(scene, option=options.steps, default=options.default_steps)
            planned = plan_scene(
                scene, backend_identity=identity, steps=steps, default_seed=options.default_seed
            )
            if not options.force and clip_is_current(entry, planned.fingerprint, self.workdir):
                skipped.append(scene)
            else:
                todo.append(planned)
        return todo, skipped

    def preview(self, options: RunOptions) -> tuple[list[PlannedScene], list[Scene]]:
        """The plan without taking the lock or changing anything."""
        state = self.store.load(storyboard=str(self.storyboard.path), title=self.storyboard.title)
        return self.plan(options, state)

    def run(self, options: RunOptions) -> Summary:
        """Generate every planned scene; failures are retried, then recorded, never accepted."""
        started = self.clock()
        with work_lock(self.workdir):
            state = self.store.load(
                storyboard=str(self.storyboard.path), title=self.storyboard.title
            )
            self._clean_partials()
            for scene in self.storyboard.scenes:
                state.scene(scene.id, scene.number)
            todo, skipped = self.plan(options, state)
            todo, adopted = self._adopt_takes(todo, state, options)
            skipped += adopted
            self.store.save(state)
            self.emit(
                RunPlanned(
                    tuple(p.scene for p in todo), tuple(skipped), len(self.storyboard.scenes)
                )
            )
            summary = Summary(skipped=[s.id for s in skipped], remaining=[p.scene.id for p in todo])
            uploader = self._start_uploads(state, options, todo)
            try:
                self._generate_all(todo, state, options, uploader, summary)
            except ResumableStop as exc:  # quota, a busy Space: the state is saved, come back later
                summary.stopped = exc.message
                summary.retry_at = exc.retry_at if isinstance(exc, QuotaExceeded) else None
            finally:
                if uploader is not None:
                    self._finish_uploads(uploader, state)
                if self.storage is not None:
                    for entry in state.scenes.values():
                        if entry.status == "done":
                            sent = is_uploaded(entry, self.storage)
                            (summary.uploaded if sent else summary.local_only).append(entry.id)
        summary.seconds = self.clock() - started
        return summary

    def _generate_all(
        self,
        todo: list[PlannedScene],
        state: RunState,
        options: RunOptions,
        uploader: Uploader | None,
        summary: Summary,
    ) -> None:
        """Hand scenes to free lanes (one clip in flight each) and land what comes back.

        Only this thread changes the state; lanes report progress through a queue. With one
        lane everything runs right here, one clip after another.
        """
        if not todo:
            return
        run = _Run(self, state, options, uploader, summary)
        costs.refuse_over(todo, self.lanes[0], options.limits.max_cost)
        run.check_quota()
        pool = (
            ThreadPoolExecutor(len(self.lanes), thread_name_prefix="f1gen-lane")
            if len(self.lanes) > 1
            else None
        )
        run.pending.extend(todo)
        try:
            while run.pending or run.running:
                run.launch(pool)
                # A lane still connecting is waited for only while new clips may start.
                if not run.running and (not run.connecting or not run.launching):
                    if run.pending and run.launching and not run.free:
                        run.wait_for_lanes()  # raises when no lane can come back
                        continue
                    break
                watched: set[Future[Any]] = {*run.running, *run.connecting}
                done, _ = wait(watched, timeout=0.1, return_when=FIRST_COMPLETED)
                run.drain()
                for future in done:
                    if future in run.connecting:
                        run.connected(future)
                    else:
                        run.land(future)
        except BaseException:
            for lane in self.lanes:
                lane.interrupt()
            raise
        finally:
            run.drain()
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)

    def _wait_until(self, retry_at: datetime, limits: Limits) -> bool:
        """With --wait, sleep until the quota returns if that is inside the window."""
        if not limits.wait:
            return False
        now = self.now()
        window = limits.window
        if window is not None and not (
            window.contains(retry_at) and window.closes_at(now) == window.closes_at(retry_at)
        ):
            return False
        self.emit(Notice(f"quota exhausted until {retry_at:%H:%M} UTC: waiting for it (--wait)"))
        self.sleep(max(0.0, (retry_at - now).total_seconds()))
        return True

    def _start_uploads(
        self, state: RunState, options: RunOptions, todo: list[PlannedScene]
    ) -> Uploader | None:
        """Check the bucket before anything is spent; queue clips an earlier run left local.

        A run with nothing to make and nothing to send does not touch the network at all.
        """
        if self.storage is None:
            return None
        storage = self.storage
        done = [e for e in state.scenes.values() if e.status == "done"]
        if not todo and all(is_uploaded(e, storage) for e in done):
            return None
        try:
            self.storage.check(create=options.create_bucket)
            check_bucket(self.storyboard, workdir=self.workdir, storage=self.storage)
        except StorageUnavailable as exc:
            self.emit(
                Notice(
                    f"{exc.message}: generation goes on, clips stay local; "
                    "'f1gen push' sends them later"
                )
            )
            return None
        uploader = Uploader(self.storage, self.workdir)
        for entry in state.scenes.values():
            if entry.status == "done" and (self.workdir / str(entry.clip)).is_file():
                uploader.submit(entry)
        return uploader

    def _collect_uploads(self, uploader: Uploader, state: RunState, *, wait: bool) -> None:
        was_down = uploader.down
        if uploader.collect(state, wait=wait):
            self.store.save(state)
        if uploader.down is not None and was_down is None:
            self.emit(
                Notice(
                    f"{uploader.down.message}: generation goes on, clips stay local; "
                    "'f1gen push' sends them later"
                )
            )

    def _finish_uploads(self, uploader: Uploader, state: RunState) -> None:
        """Wait for the last upload, record everything, and put the state in the bucket."""
        try:
            self._collect_uploads(uploader, state, wait=True)
        finally:
            uploader.close()
        assert self.storage is not None
        if uploader.down is None:
            try:
                upload_state(self.workdir, self.storage)
            except StorageUnavailable as exc:
                self.emit(Notice(exc.message))

    def _clean_partials(self) -> None:
        """Remove what a killed run left half-written; accepted clips are never touched."""
        if self.clips_dir.is_dir():
            for partial in self.clips_dir.glob(".partial-*"):
                partial.unlink(missing_ok=True)
        shutil.rmtree(self.workdir / "tmp", ignore_errors=True)

    def _add_time(self, entry: SceneState, began: float, timing: ClipTiming) -> float:
        """Add an attempt's queue and generation time to entry; the generation seconds."""
        elapsed = self.clock() - began
        generating = max(0.0, elapsed - timing.queue_seconds)
        entry.queue_seconds += timing.queue_seconds
        entry.gen_seconds += generating
        return generating

    def _record(
        self, entry: SceneState, exc: F1genError, began: float, timing: ClipTiming, *, failed: bool
    ) -> float:
        entry.add_failure(failure_kind(exc), exc.message)
        if failed:
            entry.status = "failed"
        return self._add_time(entry, began, timing)

    def _accept(
        self,
        planned: PlannedScene,
        entry: SceneState,
        partial: Path,
        info: media.MediaInfo,
        identity: str,
    ) -> None:
        """Give the checked take its own name beside older takes, then point the state at it."""
        scene = planned.scene
        base = f"{scene.number:02d}-{scene.id}-{planned.fingerprint[:8]}"
        final = self.clips_dir / f"{base}.mp4"
        take = 1
        while final.exists():
            take += 1
            final = self.clips_dir / f"{base}-take{take}.mp4"
        move_durably(partial, final)
        self._point(planned, entry, final, info, identity)
        entry.takes += 1

    def _point(
        self,
        planned: PlannedScene,
        entry: SceneState,
        final: Path,
        info: media.MediaInfo,
        identity: str,
    ) -> None:
        """Make final, a checked take on disk, the scene's clip in the state."""
        assert info.video is not None and info.audio is not None
        entry.status = "done"
        entry.fingerprint = planned.fingerprint
        entry.backend = identity
        entry.steps = planned.steps
        entry.seed = planned.seed
        entry.clip = str(final.relative_to(self.workdir))
        entry.size = final.stat().st_size
        entry.sha256 = file_digest(final)
        entry.video_seconds = round(info.video.duration, 4)
        entry.audio_seconds = round(info.audio.duration, 4)

    def _adopt_takes(
        self, todo: list[PlannedScene], state: RunState, options: RunOptions
    ) -> tuple[list[PlannedScene], list[Scene]]:
        """Use takes already on disk for this exact fingerprint instead of generating again.

        They are left by a run killed between a take's rename and the state save, or kept from
        before an edit that was then undone. GPU quota is too precious to make them twice.
        """
        if options.force or not self.clips_dir.is_dir():
            return todo, []
        remaining: list[PlannedScene] = []
        adopted: list[Scene] = []
        for planned in todo:
            known = state.scenes.get(planned.scene.id)
            # The file the state already points at was judged changed or broken: never that one.
            judged = self.workdir / known.clip if known and known.clip else None
            found = self._find_take(planned, exclude=judged)
            if found is None:
                remaining.append(planned)
                continue
            made, clip, info, identity = found
            entry = state.scene(planned.scene.id, planned.scene.number)
            self._point(made, entry, clip, info, identity)
            entry.takes = max(entry.takes, 1)
            adopted.append(planned.scene)
            self.emit(
                Notice(f"{planned.scene.id}: its take is already on disk ({clip.name}): using it")
            )
        return remaining, adopted

    def _find_take(
        self, planned: PlannedScene, *, exclude: Path | None
    ) -> tuple[PlannedScene, Path, media.MediaInfo, str] | None:
        scene = planned.scene
        for identity in sorted(self.identities):
            made = plan_scene(
                scene, backend_identity=identity, steps=planned.steps, default_seed=planned.seed
            )
            pattern = f"{scene.number:02d}-{scene.id}-{made.fingerprint[:8]}*.mp4"
            newest_first = sorted(
                self.clips_dir.glob(pattern), key=lambda p: p.stat().st_mtime, reverse=True
            )
            for clip in newest_first:
                if clip == exclude:
                    continue
                try:
                    info = media.check_clip(clip, spec=self.lanes[0].spec)
                except MediaError:
                    continue
                return made, clip, info, identity
        return None


@dataclass
class _Flight:
    """One attempt at a scene, in flight on a lane."""

    planned: PlannedScene
    lane: int
    attempt: int
    began: float
    partial: Path


class _Run:
    """The scheduling state of one generate run: pending scenes, free lanes, clips in flight."""

    def __init__(
        self,
        runner: Runner,
        state: RunState,
        options: RunOptions,
        uploader: Uploader | None,
        summary: Summary,
    ) -> None:
        self.runner, self.state, self.options = runner, state, options
        self.uploader, self.summary = uploader, summary
        self.lanes = runner.lanes
        self.pending: deque[PlannedScene] = deque()
        self.running: dict[Future[tuple[media.MediaInfo, ClipTiming]], _Flight] = {}
        self.connecting: dict[Future[None], int] = {}  # lanes being prepared, on their own thread
        self.free = list(range(len(self.lanes)))
        self.out: dict[int, F1genError] = {}
        self.prepared: set[int] = set()
        self.tries: dict[str, int] = {}
        self.events: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self.launching = True

    # Lanes in and out of rotation.

    def check_quota(self) -> None:
        """Take out, without calling them, lanes whose quota is known to be spent.

        The quota is per account: a stop recorded under another account (anonymous, or another
        token) does not hold for this one. --force tries anyway, with a warning.
        """
        now = self.runner.now()
        for index, lane in enumerate(self.lanes):
            until = self.state.retry_after.get(lane.identity)
            if until is None:
                continue
            retry_at = datetime.fromisoformat(until)
            account = self.state.retry_account.get(lane.identity)
            if now < retry_at and account not in (None, lane.account):
                self.runner.emit(Notice(
                    f"{lane.identity}: the quota stop until {retry_at:%Y-%m-%d %H:%M} UTC was "
                    "for another account: trying with this one"
                ))  # fmt: skip
            elif now < retry_at and self.options.force:
                self.runner.emit(Notice(
                    f"warning: {lane.identity}: the Space said its quota is exhausted until "
                    f"{retry_at:%Y-%m-%d %H:%M} UTC; trying anyway (--force)"
                ))  # fmt: skip
            elif now < retry_at:
                self._take_out(index, QuotaExceeded(
                    f"ZeroGPU quota exhausted until {retry_at:%Y-%m-%d %H:%M} UTC (as the Space "
                    "said): the run is saved; re-run after that",
                    retry_at=retry_at,
                ))  # fmt: skip
                continue
            del self.state.retry_after[lane.identity]
            self.state.retry_account.pop(lane.identity, None)

    def _take_out(self, index: int, reason: F1genError) -> None:
        identity = self.lanes[index].identity
        for same in (i for i, lane in enumerate(self.lanes) if lane.identity == identity):
            self.out[same] = reason  # lanes of one hosted backend share its key and its quota
            if same in self.free:
                self.free.remove(same)
        if len(self.runner.identities) > 1:
            self.runner.emit(Notice(f"{identity} is out of rotation: {reason.message}"))

    def _release(self, index: int) -> None:
        """A lane whose clip landed takes work again, unless it was taken out meanwhile."""
        if index not in self.out:
            self.free.append(index)

    def wait_for_lanes(self) -> None:
        """No lane can take work: with --wait, sleep until a quota returns; else stop."""
        quotas = {
            i: e.retry_at
            for i, e in self.out.items()
            if isinstance(e, QuotaExceeded) and e.retry_at
        }
        if quotas:
            soonest = min(quotas.values())
            if self.runner._wait_until(soonest, self.options.limits):
                for index, retry_at in quotas.items():
                    if retry_at <= self.runner.now():
                        del self.out[index]
                        self.state.retry_after.pop(self.lanes[index].identity, None)
                        self.state.retry_account.pop(self.lanes[index].identity, None)
                        self.free.append(index)
                return
        reasons = list(self.out.values())
        single = len(self.runner.identities) == 1
        if single or not any(isinstance(r, ResumableStop) for r in reasons):
            raise reasons[-1]  # one endpoint's own error; or every endpoint misconfigured: exit 3
        # Some endpoint is only resting (quota, outage): the run is resumable.
        message = f"no endpoint can take work ({'; '.join(r.message for r in reasons)})"
        if all(isinstance(r, QuotaExceeded) for r in reasons):
            raise QuotaExceeded(message, retry_at=min(quotas.values(), default=None))
        raise ResumableStop(message)

    # Launching and landing attempts.

    def _stop_reason(self, planned: PlannedScene) -> str | None:
        limits = self.options.limits
        history = expected_seconds(self.state, planned.steps)
        in_flight = len(self.running)
        return stop_reason(
            limits,
            now=self.runner.now(),
            made=len(self.summary.done) + in_flight,
            spent=self.summary.gpu_seconds + in_flight * history.gpu,
            expected=history.total if limits.window else history.gpu,
        ) or costs.stop_reason(
            self.lanes[0], limits.max_cost, spent=self.summary.cost_usd, in_flight=in_flight,
            steps=planned.steps,
        )  # fmt: skip

    def launch(self, pool: ThreadPoolExecutor | None) -> None:
        """Start attempts on free lanes while there is work and nothing says stop."""
        while self.launching and self.pending and self.free:
            planned = self.pending[0]
            reason = self._stop_reason(planned)
            if reason is not None:
                self.summary.stopped = (
                    f"{reason}: the run is saved; {_next_step(self.options.limits)}"
                )
                self.launching = False
                return
            index = self.free.pop(0)
            if index not in self.prepared:  # outside the window nothing is even connected
                self._connect(index, alone=pool is None)
                continue
            self.pending.popleft()
            self._start(planned, index, pool)

    def _connect(self, index: int, *, alone: bool) -> None:
        """Prepare a lane. Alone, right here, each retry shown as it happens; with several
        lanes, on a thread of its own, so that one endpoint's backoff never holds up another."""
        lane = self.lanes[index]
        if alone:
            try:
                lane.prepare(lambda update: self.runner.emit(Notice(update.message)))
            except (ResumableStop, ConfigError) as exc:
                self._take_out(index, exc)
                return
            self.prepared.add(index)
            self.free.insert(0, index)
            return
        name = lane.identity
        report = lambda update: self.events.put(Notice(f"{name}: {update.message}"))  # noqa: E731
        self.connecting[_in_background(lambda: lane.prepare(report))] = index

    def connected(self, future: Future[None]) -> None:
        """A lane finished preparing: free for work, or out of rotation."""
        index = self.connecting.pop(future)
        try:
            future.result()
        except (ResumableStop, ConfigError) as exc:
            self._take_out(index, exc)
            return
        self.prepared.add(index)
        self.free.append(index)

    def _check_writable(self) -> None:
        """WriteError, before a call is made, when the clips folder cannot take a clip.

        A clip the folder cannot hold would be paid for and lost, and so would every retry.
        """
        clips = self.runner.clips_dir
        probe = clips / f".partial-probe-{os.getpid()}"
        try:
            clips.mkdir(parents=True, exist_ok=True)
            with probe.open("wb") as handle:
                handle.write(bytes(64 * 1024))
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise WriteError(
                f"{clips}: cannot write a clip ({exc.strerror}): fix the folder's permissions or "
                "free disk space, then re-run; nothing more was spent"
            ) from None
        finally:
            with contextlib.suppress(OSError):
                probe.unlink(missing_ok=True)

    def _start(self, planned: PlannedScene, index: int, pool: ThreadPoolExecutor | None) -> None:
        runner, scene = self.runner, planned.scene
        self._check_writable()
        entry = self.state.scene(scene.id, scene.number)
        attempt = self.tries[scene.id] = self.tries.get(scene.id, 0) + 1
        lane = self.lanes[index]
        runner.emit(SceneStarted(scene, attempt, self.options.max_attempts,
                                 lane.identity if len(self.lanes) > 1 else None))  # fmt: skip
        entry.attempts += 1
        entry.interrupted += 1  # until the attempt lands: a kill leaves it counted apart
        runner.store.save(self.state)
        assert scene.image is not None
        image = images.prepare(scene.image, fit=scene.fit, size=lane.spec.size,
                               cache_dir=runner.images_dir,
                               digest=planned.image_digest)  # fmt: skip
        request = ClipRequest(
            scene=scene, prompt=planned.prompt, image=image, sample_steps=planned.steps,
            fingerprint=planned.fingerprint, seed=planned.seed,
        )  # fmt: skip
        partial = runner.clips_dir / f".partial-{scene.id}-{os.getpid()}.mp4"
        flight = _Flight(planned, index, attempt, runner.clock(), partial)

        def attempt_clip(
            report: Callable[[BackendUpdate], None],
        ) -> tuple[media.MediaInfo, ClipTiming]:
            try:
                timing = lane.generate(request, partial, report)
            except OSError as exc:  # the clip was made but cannot be kept here
                raise unwritable(runner.clips_dir, exc) from None
            return media.check_clip(partial, spec=lane.spec), timing

        if pool is not None:
            future = pool.submit(attempt_clip, lambda u: self.events.put(SceneProgress(scene, u)))
        else:
            future = Future()
            try:
                future.set_result(attempt_clip(lambda u: runner.emit(SceneProgress(scene, u))))
            except Exception as exc:  # landed below, like a thread's
                future.set_exception(exc)
            except BaseException:  # Ctrl-C, SIGTERM: no half-made take stays behind
                partial.unlink(missing_ok=True)
                raise
        self.running[future] = flight

    def land(self, future: Future[tuple[media.MediaInfo, ClipTiming]]) -> None:
        """Record what an attempt came back with (this thread alone writes the state)."""
        flight = self.running.pop(future)
        runner, options, summary = self.runner, self.options, self.summary
        planned, lane = flight.planned, self.lanes[flight.lane]
        scene = planned.scene
        entry = self.state.scene(scene.id, scene.number)
        entry.interrupted = max(0, entry.interrupted - 1)
        try:
            info, timing = future.result()
        except WriteError:  # the folder cannot hold clips: stop before anything more is spent
            flight.partial.unlink(missing_ok=True)
            runner.store.save(self.state)
            raise
        except (GenerationError, MediaError) as exc:  # a failed attempt: retry, maybe elsewhere
            flight.partial.unlink(missing_ok=True)
            last = flight.attempt >= options.max_attempts
            summary.gpu_seconds += runner._record(
                entry, exc, flight.began, ClipTiming(), failed=last
            )
            runner.store.save(self.state)
            runner.emit(SceneAttemptFailed(scene, flight.attempt, exc.message, not last))
            self._release(flight.lane)
            if last:
                summary.remaining.remove(scene.id)
                summary.failed.append(scene.id)
            else:
                self.pending.appendleft(planned)
            return
        except F1genError as exc:  # quota, a busy Space, configuration: this lane stops
            flight.partial.unlink(missing_ok=True)
            summary.gpu_seconds += runner._record(
                entry, exc, flight.began, ClipTiming(), failed=False
            )
            if isinstance(exc, QuotaExceeded) and exc.retry_at is not None:
                self.state.retry_after[lane.identity] = exc.retry_at.isoformat()
                self.state.retry_account[lane.identity] = lane.account
            runner.store.save(self.state)
            self.tries[scene.id] -= 1  # not the scene's fault: it goes to another lane
            self.pending.appendleft(planned)
            self._take_out(flight.lane, exc)
            return
        made = plan_scene(
            scene, backend_identity=lane.identity, steps=planned.steps, default_seed=planned.seed
        )
        runner._accept(made, entry, flight.partial, info, lane.identity)
        summary.gpu_seconds += runner._add_time(entry, flight.began, timing)
        entry.cost_usd = round(entry.cost_usd + timing.cost_usd, 4)
        summary.cost_usd += timing.cost_usd
        entry.clip_queue_seconds = round(timing.queue_seconds, 3)
        entry.clip_seconds = round(runner.clock() - flight.began - timing.queue_seconds, 3)
        runner.store.save(self.state)
        if self.uploader is not None:
            self.uploader.submit(entry)
            runner._collect_uploads(self.uploader, self.state, wait=False)
        runner.emit(
            SceneAccepted(scene, runner.workdir / str(entry.clip), runner.clock() - flight.began)
        )
        summary.remaining.remove(scene.id)
        summary.done.append(scene.id)
        self._release(flight.lane)

    def drain(self) -> None:
        """Pass on what the lanes reported."""
        while True:
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                return
            self.runner.emit(event)


def _in_background(call: Callable[[], None]) -> Future[None]:
    """Run call on a daemon thread: a lane still backing off never keeps the process alive."""
    future: Future[None] = Future()

    def run() -> None:
        try:
            call()
        except BaseException as exc:  # handed to the run's thread, like a pool's future
            future.set_exception(exc)
        else:
            future.set_result(None)

    threading.Thread(target=run, name="f1gen-connect", daemon=True).start()
    return future
