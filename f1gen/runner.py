"""The generate loop: plan, prepare, generate, check, accept; the state saved after every change.

The Runner orchestrates one run: it takes the work-folder lock, plans, adopts takes already on
disk, hands the rest to the scheduler (lanes.py) and keeps the bucket in step. What each attempt
leaves in the state is written down by a RunRecord; the clips folder is a TakeStore (takes.py).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from . import casting, costs, images, media, picks, voices
from .backends import Backend, ClipRequest, ClipTiming, judges, renders_locally
from .checks import TakeChecks
from .checks.cache import CheckCache
from .errors import (
    BackendBusy,
    ClipRejected,
    F1genError,
    GenerationError,
    MediaError,
    QuotaExceeded,
    ResumableStop,
    StorageUnavailable,
    WriteError,
)
from .estimate import expected_seconds, model_scale
from .events import (
    Emit,
    Notice,
    RunPlanned,
    SceneAccepted,
    SceneAttemptFailed,
    SceneStarted,
    Summary,
)
from .files import file_digest
from .lanes import Flight, Scheduler
from .ledger import Ledger, request_key
from .plan import (
    PlannedScene,
    clip_is_current,
    expected_fingerprint,
    plan_scene,
    refuse_durations,
    scene_steps,
    scene_takes,
)
from .scene import Scene, Storyboard
from .schedule import Limits, stop_reason
from .state import RunState, SceneState, StateStore, TakeRecord, now_iso, unwritable, work_lock
from .sync import Uploader, check_bucket, is_uploaded, upload_state
from .takes import Take, TakeStore, free_bytes

if TYPE_CHECKING:
    from .backends import Report
    from .scene import VoiceCheck
    from .storage import Storage

DEFAULT_ATTEMPTS = 3


@dataclass(frozen=True)
class RunOptions:
    """How one generate run behaves."""

    only: frozenset[int] | None = None
    force: bool = False
    max_attempts: int = DEFAULT_ATTEMPTS
    default_steps: int = 40  # OVI_SAMPLE_STEPS or 40: the storyboard's defaults beat it
    steps: int | None = None  # --sample-steps: beats the storyboard's defaults, not a scene's own
    default_seed: int | None = None  # --seed: for scenes that set none
    takes: int | None = None  # --takes: beats the storyboard's defaults, not a scene's own
    checks: bool = True  # check every take where the backend's clips can be judged
    voice_check: VoiceCheck | None = None  # --voice-check: beats every character's voice_check
    create_bucket: bool = False
    limits: Limits = field(default_factory=Limits)


class TakeRejected(ClipRejected):
    """A clip that came back and decodes, but failed a hard check: kept (it was paid for), never
    picked; what it is and what its checks found, for its record."""

    def __init__(self, message: str, *, info: media.MediaInfo, checks: TakeChecks) -> None:
        super().__init__(message)
        self.info, self.checks = info, checks


def held_back(scenes: list[str], backend: str) -> str:
    """What to do about scenes whose request may already be paid, said once for all of them."""
    count = f"{len(scenes)} scene{'s' if len(scenes) > 1 else ''}"
    return (
        f"{count} held back ({', '.join(scenes)}): a request for each may already be paid on "
        f"{backend}, which cannot be searched: check your {backend} dashboard; to send them "
        "again, re-run with --resend-unknown (or leave them held back)"
    )


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


def point(
    entry: SceneState,
    planned: PlannedScene,
    take: Take,
    info: media.MediaInfo,
    *,
    identity: str,
    workdir: Path,
) -> None:
    """Make take, a checked clip on disk, the scene's clip in the state."""
    assert info.video is not None and info.audio is not None
    entry.status = "done"
    entry.fingerprint = planned.fingerprint
    entry.backend = identity
    entry.steps = planned.steps
    entry.seed = planned.seed
    entry.clip = str(take.path.relative_to(workdir))
    entry.size = take.path.stat().st_size
    entry.sha256 = file_digest(take.path)
    entry.video_seconds = round(info.video.duration, 4)
    entry.audio_seconds = round(info.audio.duration, 4)


def take_record(
    take: Take,
    info: media.MediaInfo,
    made: PlannedScene,
    identity: str,
    seed: int | None,
    workdir: Path,
    *,
    cost_usd: float = 0.0,
) -> TakeRecord:
    """What the state keeps of a take on disk."""
    return TakeRecord(
        name=take.path.name,
        clip=str(take.path.relative_to(workdir)),
        fingerprint=made.fingerprint,
        seed=seed,
        backend=identity,
        steps=made.steps,
        video_seconds=round(info.video.duration, 4) if info.video else None,
        audio_seconds=round(info.audio.duration, 4) if info.audio else None,
        sha256=file_digest(take.path),
        size=take.path.stat().st_size,
        cost_usd=round(cost_usd, 4),
        made_at=now_iso(),
    )


def shortfall(planned: PlannedScene, entry: SceneState, exc: F1genError, *, attempts: int) -> str:
    """What a done scene lacks, in a few words: its good takes of those asked for, and why."""
    good = sum(take.fingerprint == planned.fingerprint for take in entry.takes if not take.rejected)
    wanted = good + planned.takes
    return (
        f"{good} of {wanted} takes: the next failed {attempts} attempts ({exc.message}); "
        "re-run to try again"
    )


def take_checks(made: PlannedScene, clip: Path, *, identity: str) -> TakeChecks:
    """Every check of a take of made's scene by the backend of identity (a clip that decodes);
    MediaError if unreadable."""
    from .backends import picture_moves
    from .checks import check_take

    moves = picture_moves(identity)
    return check_take(clip, line=made.scene.speech, prompt=made.prompt, moves=moves)


def remember(cache: CheckCache, scene: Scene, record: TakeRecord, result: TakeChecks) -> str:
    """Keep a take's checks (for the pick and the review page); them in a few words."""
    from .checks import summary

    assert record.sha256 is not None
    key = picks.check_key(scene, record.sha256)
    # Checked under whatever name the clip had then (a partial's): kept under the take's own.
    cache.put(key, replace(result, take=record.name))
    if result.speech is not None:  # for the stitch's mix
        cache.put_speech(record.sha256, result.speech)
    cache.save()
    return summary(result)


def take_in(
    entry: SceneState,
    made: PlannedScene,
    found: tuple[Take, media.MediaInfo],
    *,
    identity: str,
    seed: int | None,
    workdir: Path,
    cache: CheckCache,
    checks: TakeChecks | None = None,
    cost_usd: float = 0.0,
    refresh_voices: Callable[[], object] | None = None,
    voice_check: VoiceCheck | None = None,
) -> TakeRecord:
    """The one place a take is taken in: its record (and its checks, remembered) goes beside the
    older takes; one that passed its hard checks makes the scene's clip its pick (by hand, else
    by the checks, its character's voice among them), or itself when no take is pickable. One
    that failed is kept, never picked. refresh_voices brings the characters' references up to
    date first (the medoid of their takes moves as takes come in)."""
    take, info = found
    record = take_record(take, info, made, identity, seed, workdir, cost_usd=cost_usd)
    record.rejected = checks is not None and checks.rejected
    if checks is not None:
        record.checks = remember(cache, made.scene, record, checks)
    entry.takes.append(record)
    if not record.rejected:
        entry.seed = made.seed
        if refresh_voices is not None and made.scene.character is not None:
            refresh_voices()
        known = picks.known_checks(cache, made.scene, entry)
        chosen = picks.repick(
            made.scene, entry, workdir=workdir, checks=known, voice_check=voice_check
        )
        if chosen is None:
            point(entry, made, take, info, identity=identity, workdir=workdir)
    return record


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
        free: Callable[[Path], int] = free_bytes,
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
        self.takes = TakeStore(workdir / "clips", free=free)
        self.images_dir = workdir / "images"
        self.state: RunState | None = None  # as the last run left it: status and stitch read it

    def plan(self, options: RunOptions, state: RunState) -> tuple[list[PlannedScene], list[Scene]]:
        """Scenes to generate now, and selected scenes whose clip is already current."""
        todo: list[PlannedScene] = []
        skipped: list[Scene] = []
        chosen = [s for s in self.storyboard.scenes if not options.only or s.number in options.only]
        refuse_durations(self.storyboard, chosen, self.lanes[0].identity)
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
            wanted = scene_takes(scene, option=options.takes)
            have = 0
            if entry is not None and not options.force:
                current = picks.pickable(scene, entry, self.workdir)
                have = sum(t.fingerprint == planned.fingerprint for t in current)
                if clip_is_current(entry, planned.fingerprint, self.workdir):
                    have = max(have, 1)  # a clip from before takes were recorded
            if have >= wanted:
                skipped.append(scene)
            else:
                todo.append(replace(planned, takes=wanted - have))
        return todo, skipped

    def preview(self, options: RunOptions) -> tuple[list[PlannedScene], list[Scene]]:
        """The plan without taking the lock or changing anything."""
        state = self.store.load(storyboard=str(self.storyboard.path), title=self.storyboard.title)
        return self.plan(options, state)

    def run(self, options: RunOptions) -> Summary:
        """Generate every planned scene; failures are retried, then recorded, never accepted."""
        started = self.clock()
        with work_lock(self.workdir):
            state = self.state = self.store.load(
                storyboard=str(self.storyboard.path), title=self.storyboard.title
            )
            self.takes.clean_partials()
            shutil.rmtree(self.workdir / "tmp", ignore_errors=True)
            for scene in self.storyboard.scenes:
                state.scene(scene.id, scene.number)
            undecided = set()
            for lost in picks.settle_lost(self.storyboard, state, workdir=self.workdir):
                self.emit(Notice(lost.message()))  # re-picked, or what to do: never silently
                if lost.chosen is None:
                    undecided.add(lost.scene.id)
            todo, skipped = self.plan(options, state)
            self._repick_undone(
                [s for s in skipped if s.id not in undecided], state, options.voice_check
            )
            self._voices_at_start(state, options)
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
                self._recast(state, options)
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
        """Schedule the scenes to make over the lanes, each outcome written down as it lands."""
        if not todo:
            return
        costs.refuse_over(todo, self.lanes[0], options.limits.max_cost)

        def upload(entry: SceneState) -> None:
            if uploader is not None:
                uploader.submit(entry)
                self._collect_uploads(uploader, state, wait=False)

        record = RunRecord(
            storyboard=self.storyboard,
            state=state,
            store=self.store,
            takes=self.takes,
            summary=summary,
            options=options,
            emit=self.emit,
            now=self.now,
            clock=self.clock,
            images_dir=self.images_dir,
            price_of=self.lanes[0],
            upload=upload,
            clip_bytes=self.lanes[0].spec.clip_bytes,
        )
        scheduler = Scheduler(
            self.lanes,
            state=state,
            attempts=record,
            emit=self.emit,
            max_attempts=options.max_attempts,
            force=options.force,
            limits=options.limits,
            now=self.now,
            sleep=self.sleep,
        )
        scheduler.run(todo)
        if record.no_room is not None:  # the clips in flight have landed: now the run stops
            raise record.no_room
        stops = []
        if scheduler.stopped is not None:
            stops.append(f"{scheduler.stopped}: the run is saved; {_next_step(options.limits)}")
        if summary.held:
            stops.append(held_back(summary.held, self.lanes[0].name))
        if stops:
            summary.stopped = "; ".join(stops)

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

    def _voices_at_start(self, state: RunState, options: RunOptions) -> None:
        """The characters' references as they stand (a voice_ref embedded once); why voices
        are not checked in this run, said once, when they are not."""
        if not self.storyboard.characters:
            return
        lane = self.lanes[0]
        if not options.checks:
            self.emit(
                Notice("voices not checked: the take checks are off (--no-checks, F1GEN_CHECKS)")
            )
        elif not judges(lane):
            self.emit(
                Notice(
                    f"voices not checked: {lane.identity}'s clips carry no voice to judge "
                    "(the animatic speaks only with espeak-ng installed)"
                )
            )
        casting.refresh(self.storyboard, state, workdir=self.workdir)

    def _recast(self, state: RunState, options: RunOptions) -> None:
        """Every character's scene picked again against its reference as the run left it (the
        medoid moves as takes come in); the state saved when a clip changed."""
        if not self.storyboard.characters:
            return
        changed = casting.recast(
            self.storyboard, state, workdir=self.workdir, option=options.voice_check
        )
        self.store.save(state)
        if changed:
            self.emit(Notice(f"picked again for their character's voice: {', '.join(changed)}"))

    def _repick_undone(
        self, skipped: list[Scene], state: RunState, options_voice: VoiceCheck | None
    ) -> None:
        """A scene skipped for takes it already has, whose clip is not one of them (an edit
        undone): its clip becomes its pick among them again."""
        for scene in skipped:
            entry = state.scenes.get(scene.id)
            fingerprint = expected_fingerprint(scene, entry) if entry else None
            if entry is None or (fingerprint and clip_is_current(entry, fingerprint, self.workdir)):
                continue
            known = picks.known_checks(CheckCache(self.workdir), scene, entry)
            picks.repick(
                scene, entry, workdir=self.workdir, checks=known, voice_check=options_voice
            )

    def _adopt_takes(
        self, todo: list[PlannedScene], state: RunState, options: RunOptions
    ) -> tuple[list[PlannedScene], list[Scene]]:
        """Use takes already on disk for this exact fingerprint instead of generating again.

        They are left by a run killed between a take's rename and the state save, or kept from
        before an edit that was then undone. GPU quota is too precious to make them twice.
        """
        if options.force or not self.takes.folder.is_dir():
            return todo, []
        remaining: list[PlannedScene] = []
        adopted: list[Scene] = []
        cache = CheckCache(self.workdir)
        ledger = Ledger(self.workdir)
        for planned in todo:
            known = state.scenes.get(planned.scene.id)
            # The file the state already points at was judged changed or broken: never that one.
            judged = self.workdir / known.clip if known and known.clip else None
            found = self._find_take(planned, exclude=judged)
            recorded = {t.name for t in known.takes} if known else set()
            if found is None or found[1].path.name in recorded:
                remaining.append(planned)
                continue
            made, take, info, identity = found
            # Killed before its checks ran, perhaps: it is judged like any new take.
            lane = next(lane for lane in self.lanes if lane.identity == identity)
            result = None
            if options.checks and judges(lane):
                try:
                    result = take_checks(made, take.path, identity=identity)
                except MediaError:  # its sound cannot be read after all: made again
                    remaining.append(planned)
                    continue
            entry = state.scene(planned.scene.id, planned.scene.number)
            slot = 1 + sum(t.fingerprint == made.fingerprint for t in entry.takes)
            seed = picks.take_seed(made.seed, made.fingerprint, slot)
            # A hosted request's clip: what it cost is in the ledger (the state never heard).
            paid = (
                ledger.paid_for(request_key(planned.scene.id, made.fingerprint), take.path) or 0.0
            )
            record = take_in(entry, made, (take, info), identity=identity, seed=seed,
                             workdir=self.workdir, cache=cache, checks=result,
                             cost_usd=paid,
                             refresh_voices=lambda: casting.refresh(
                                 self.storyboard, state, workdir=self.workdir),
                             voice_check=options.voice_check)  # fmt: skip
            entry.cost_usd = round(entry.cost_usd + paid, 4)
            if record.rejected:
                self.emit(
                    Notice(
                        f"{planned.scene.id}: the take on disk ({take.path.name}) "
                        f"{record.checks}: kept, never picked; making another"
                    )
                )
                remaining.append(planned)
                continue
            self.emit(
                Notice(
                    f"{planned.scene.id}: its take is already on disk ({take.path.name}): using it"
                )
            )
            if planned.takes > 1:
                remaining.append(replace(planned, takes=planned.takes - 1))
            else:
                adopted.append(planned.scene)
        return remaining, adopted

    def _find_take(
        self, planned: PlannedScene, *, exclude: Path | None
    ) -> tuple[PlannedScene, Take, media.MediaInfo, str] | None:
        """The newest sound take on disk of planned's scene, under any of this run's lanes."""
        scene = planned.scene
        for identity in sorted(self.identities):
            made = plan_scene(
                scene, backend_identity=identity, steps=planned.steps, default_seed=planned.seed
            )
            found = self.takes.find(
                scene,
                made.fingerprint,
                exclude=exclude,
                check=lambda clip: media.check_clip(clip, spec=self.lanes[0].spec),
            )
            if found is not None:
                return made, found[0], found[1], identity
        return None


class RunRecord:
    """What one run writes down: each attempt in the state (saved after every change), the
    takes it keeps, and the summary. The scheduler's Attempts."""

    def __init__(
        self,
        *,
        storyboard: Storyboard,
        state: RunState,
        store: StateStore,
        takes: TakeStore,
        summary: Summary,
        options: RunOptions,
        emit: Emit,
        now: Callable[[], datetime],
        clock: Callable[[], float],
        images_dir: Path,
        price_of: Backend | object,
        upload: Callable[[SceneState], None],
        clip_bytes: int = 0,
    ) -> None:
        self.storyboard = storyboard
        self.state, self.store, self.takes, self.summary = state, store, takes, summary
        self.options, self.emit, self.now, self.clock = options, emit, now, clock
        self.images_dir, self.price_of, self.upload = images_dir, price_of, upload
        self.workdir = store.path.parent
        self.cache = CheckCache(self.workdir)
        self.results: dict[Path, TakeChecks] = {}  # a flight's partial -> its take's checks
        # By scene, for a clip back from its lane: the take it got, how it went and when it came
        # back (its checks are not generation time: the next clip is under way while they run).
        self.kept: dict[str, tuple[Take, ClipTiming, float]] = {}
        # The clips folder is probed before the first call, and again after a failed attempt
        # (a full disk can look like a broken clip): not before every call, which it slows.
        self.probe_due = True
        self.clip_bytes = clip_bytes  # what a clip of the backend weighs at most (its spec)
        self.no_room: WriteError | None = None  # why no clip may start: the folder is too full

    def stop_reason(self, planned: PlannedScene, *, in_flight: int) -> str | None:
        """Why the next clip must not start: no room for it, --max-clips, --budget, the window,
        --max-cost."""
        # Room for the clips in flight, the next one and one more (the state, the log, the
        # checks' scratch): measured before every call, which costs one statfs.
        self.no_room = self.takes.room_short(self.clip_bytes * (in_flight + 2))
        if self.no_room is not None:
            return self.no_room.message
        limits = self.options.limits
        scale = model_scale(getattr(self.price_of, "identity", None))
        history = expected_seconds(self.state, planned.steps, scale=scale)
        return stop_reason(
            limits,
            now=self.now(),
            made=self.summary.clips + in_flight,
            spent=self.summary.gpu_seconds + in_flight * history.gpu,
            expected=history.total if limits.window else history.gpu,
        ) or costs.stop_reason(
            self.price_of, limits.max_cost, spent=self.summary.cost_usd, in_flight=in_flight,
            steps=planned.steps,
        )  # fmt: skip

    def begin(self, planned: PlannedScene, lane: Backend, number: int, *, named: bool) -> Flight:
        """Count the attempt (a kill leaves it counted as interrupted), prepare the image and
        the request: the flight's work makes the clip on the lane; its check judges it after."""
        scene = planned.scene
        if self.probe_due:
            self.takes.check_writable()
            self.probe_due = False
        entry = self.state.scene(scene.id, scene.number)
        made = plan_scene(
            scene, backend_identity=lane.identity, steps=planned.steps, default_seed=planned.seed
        )
        slot = 1 + sum(t.fingerprint == made.fingerprint for t in entry.takes)
        planned = replace(
            made,
            takes=planned.takes,
            slot=slot,
            take_seed=picks.take_seed(made.seed, made.fingerprint, slot),
        )
        self.emit(SceneStarted(scene, number, self.options.max_attempts,
                               lane.identity if named else None))  # fmt: skip
        entry.attempts += 1
        entry.interrupted += 1  # until the attempt lands: a kill leaves it counted apart
        assert scene.image is not None
        image = images.prepare(scene.image, fit=scene.fit, size=lane.spec.size,
                               cache_dir=self.images_dir,
                               digest=planned.image_digest)  # fmt: skip
        request = ClipRequest(
            scene=scene, prompt=planned.prompt, image=image, sample_steps=planned.steps,
            fingerprint=planned.fingerprint, seed=planned.take_seed,
        )  # fmt: skip
        partial = self.takes.partial(scene)
        clips = self.takes.folder
        judged = self.options.checks and judges(lane)

        def work(report: Report) -> ClipTiming:
            try:
                return lane.generate(request, partial, report)
            except OSError as exc:  # the clip was made but cannot be kept here
                raise unwritable(clips, exc) from None

        def check() -> media.MediaInfo:  # on a thread of its own: the next clip is under way
            info = media.check_clip(partial, spec=lane.spec)
            if judged:
                self.results[partial] = self._judge(planned, partial, info, lane.identity)
            return info

        return Flight(planned, lane, number, self.clock(), partial, work, check)

    def _judge(
        self, planned: PlannedScene, partial: Path, info: media.MediaInfo, identity: str
    ) -> TakeChecks:
        """Every check of a new take; TakeRejected when a hard check fails."""
        scene = planned.scene
        result = take_checks(planned, partial, identity=identity)
        character = scene.character
        if character and voices.strictness(character, self.options.voice_check) == "strict":
            # Judged now against the reference as it stands: another voice is made again.
            result = voices.judged(
                scene, {"new": result}, workdir=self.workdir, option=self.options.voice_check
            )["new"]
        if not result.rejected:
            return result
        take = self.kept[scene.id][0]
        hard = "; ".join(c.reason for c in result.checks if c.hard and c.level == "fail")
        raise TakeRejected(
            f"take {take.path.name} failed a hard check ({hard}): kept, never picked; "
            "trying a new seed",
            info=info,
            checks=result,
        )

    def under_way(self, flight: Flight) -> None:
        """The attempt is counted in the saved state once its request is on its way."""
        self.store.save(self.state)

    def keep(self, flight: Flight, timing: ClipTiming) -> None:
        """The clip gets its take's name beside the older takes before it is checked."""
        planned = flight.planned
        back = self.clock()
        take = self.takes.keep(planned.scene, planned.fingerprint, flight.partial)
        self.kept[planned.scene.id] = (take, timing, back)

    def failed(self, flight: Flight, exc: F1genError, *, last: bool) -> None:
        """A failed attempt: recorded; the scene is marked failed after its last. A clip that
        came back was paid for: its cost counts, and one that failed a hard check is kept."""
        scene = flight.planned.scene
        entry = self._landed(flight)
        kept = self.kept.pop(scene.id, None)
        if kept is not None:  # a clip came back: made, and paid for
            self.summary.clips += 1
            take, timing, _ = kept
            self._count_cost(entry, timing.cost_usd)
            if isinstance(exc, TakeRejected):
                self.summary.rejected += 1
                self.takes.settle(take, flight.partial)
                take_in(entry, flight.planned, (take, exc.info), identity=flight.lane.identity,
                        seed=flight.planned.take_seed, workdir=self.workdir, cache=self.cache,
                        checks=exc.checks, cost_usd=timing.cost_usd)  # fmt: skip
            else:  # it does not decode: nothing of it stays
                self.takes.discard(take, flight.partial)
        self.probe_due = True
        seconds = (kept[2] if kept else self.clock()) - flight.began
        # A scene with a good take is done: an extra take given up on is a shortfall, not a failure.
        short = last and self._has_good_take(flight.planned, entry)
        self._record(entry, exc, failed=last and not short)
        self._add_time(entry, flight.lane, seconds, kept[1] if kept else None)
        if short:
            entry.shortfall = shortfall(flight.planned, entry, exc, attempts=flight.number)
        self.store.save(self.state)
        self.emit(SceneAttemptFailed(scene, flight.number, exc.message, not last))
        if short:
            self.emit(Notice(f"{scene.label}: done, short of takes: {entry.shortfall}"))
        if last:
            self.summary.remaining.remove(scene.id)
            (self.summary.short if short else self.summary.failed).append(scene.id)

    def _has_good_take(self, planned: PlannedScene, entry: SceneState) -> bool:
        """True when the scene's clip is a good take of the scene as it is now."""
        return entry.status == "done" and any(
            take.fingerprint == planned.fingerprint
            for take in picks.pickable(planned.scene, entry, self.workdir)
        )

    def stopped(self, flight: Flight, exc: F1genError) -> None:
        """The lane stopped: recorded against the scene, which stays pending. Its time went on
        waiting (a busy or unreachable backend, a quota), not on a GPU."""
        entry = self._landed(flight)
        seconds = self.clock() - flight.began
        self._record(entry, exc, failed=False)
        self._add_time(entry, flight.lane, seconds, ClipTiming(backoff_seconds=seconds))
        self.store.save(self.state)

    def abandoned(self, flight: Flight) -> None:
        """The clip cannot be kept: the attempt is not counted against the scene."""
        self._landed(flight)
        self.store.save(self.state)

    def held(self, flight: Flight, exc: F1genError) -> None:
        """Not an attempt of the scene (the request it may have sent is the one held): not
        counted; the scene waits, and what to do is said once at the end of the run."""
        scene = flight.planned.scene
        entry = self._landed(flight)
        entry.attempts = max(0, entry.attempts - 1)
        self.store.save(self.state)
        self.summary.held.append(scene.id)
        self.emit(Notice(f"{scene.id}: {exc.message}"))

    def accepted(self, flight: Flight, info: media.MediaInfo) -> PlannedScene | None:
        """The clip passed its checks: its take goes beside the older ones, and the scene's clip
        is its pick; the scene again when it wants more takes."""
        planned, lane = flight.planned, flight.lane
        scene = planned.scene
        entry = self._landed(flight)
        take, timing, back = self.kept.pop(scene.id)
        self.summary.clips += 1
        self.takes.settle(take, flight.partial)
        checks = self.results.pop(flight.partial, None)
        take_in(entry, planned, (take, info), identity=lane.identity, seed=planned.take_seed,
                workdir=self.workdir, cache=self.cache, checks=checks,
                cost_usd=timing.cost_usd, voice_check=self.options.voice_check,
                refresh_voices=lambda: casting.refresh(
                    self.storyboard, self.state, workdir=self.workdir))  # fmt: skip
        seconds = back - flight.began
        making = self._add_time(entry, lane, seconds, timing)
        self._count_cost(entry, timing.cost_usd)
        entry.clip_queue_seconds = round(timing.queue_seconds, 3)
        entry.clip_seconds = round(making, 3)
        if planned.takes == 1:
            entry.shortfall = None  # every take asked for is made
        self.store.save(self.state)
        self.upload(entry)
        self.emit(SceneAccepted(scene, take.path, self.clock() - flight.began))
        if planned.takes > 1:
            return replace(planned, takes=planned.takes - 1)
        self.summary.remaining.remove(scene.id)
        self.summary.done.append(scene.id)
        return None

    def _count_cost(self, entry: SceneState, cost_usd: float) -> None:
        entry.cost_usd = round(entry.cost_usd + cost_usd, 4)
        self.summary.cost_usd += cost_usd

    def _landed(self, flight: Flight) -> SceneState:
        """The scene's entry, its attempt no longer in flight."""
        scene = flight.planned.scene
        entry = self.state.scene(scene.id, scene.number)
        entry.interrupted = max(0, entry.interrupted - 1)
        return entry

    def _add_time(
        self, entry: SceneState, lane: Backend, seconds: float, timing: ClipTiming | None = None
    ) -> float:
        """Add an attempt's time to entry and the summary, each kind as what it is: queue,
        backoff, then the rest making the clip (on a GPU, or on this machine's CPU for a backend
        that renders here). The seconds spent making it."""
        queued = timing.queue_seconds if timing is not None else 0.0
        waited = min(timing.backoff_seconds if timing is not None else 0.0, seconds - queued)
        making = max(0.0, seconds - queued - waited)
        entry.queue_seconds += queued
        entry.wait_seconds = round(entry.wait_seconds + max(0.0, waited), 3)
        self.summary.wait_seconds += max(0.0, waited)
        if renders_locally(lane):
            entry.cpu_seconds = round(entry.cpu_seconds + making, 3)
            self.summary.cpu_seconds += making
        else:
            entry.gen_seconds += making
            self.summary.gpu_seconds += making
        return making

    def _record(self, entry: SceneState, exc: F1genError, *, failed: bool) -> None:
        entry.add_failure(failure_kind(exc), exc.message)
        if failed:
            entry.status = "failed"
