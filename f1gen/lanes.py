"""Scheduling scenes over lanes: one clip in flight on each endpoint at a time.

A lane is one backend that takes one clip at a time (a Space, a self-hosted app, a slot of a
hosted queue). The scheduler connects lanes, hands pending scenes to free ones, lands what comes
back, takes a lane out of rotation when it stops (a quota, an outage, a refused key) and brings
it back when its quota returns (--wait). What an attempt does and where its outcome is written
down is not its business: it asks its Attempts for that.

Each attempt runs on a thread of its own, even with one lane: when a clip comes back, it is
kept under its take's name, the lane is given its next scene, and the clip is checked (a full
decode, and the take checks) on a thread of its own while the next one is being made: once that
request had a moment to reach its endpoint (the checks would slow its sending), or as soon as
nothing is being sent. Clips are accepted in the order they came back, and a lane back again
before its last clip was judged waits for that judgement (what the clip took informs the run's
limits); other lanes never wait for a check. Only this thread writes the state; lanes report
progress through a queue.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from . import interrupts
from .errors import (
    ConfigError,
    F1genError,
    GenerationError,
    HeldBack,
    MediaError,
    QuotaExceeded,
    ResumableStop,
    WriteError,
)
from .events import Emit, Event, Notice, SceneProgress

if TYPE_CHECKING:
    from .backends import Backend, BackendUpdate, ClipTiming, Report
    from .media import MediaInfo
    from .plan import PlannedScene
    from .schedule import Limits
    from .state import RunState

T = TypeVar("T")
# After Ctrl-C or a stop, how long lanes get to give up their clip (cancel a job, end a render)
# before what they were writing is removed and the run ends without them.
GRACE_SECONDS = 10.0
# How long a clip that came back waits before its checks start while the next request is sent.
SETTLE_SECONDS = 0.3


@dataclass(frozen=True)
class Flight:
    """One attempt at a scene on a lane: work makes the clip there (report: its progress) and
    check judges it here, once it is back."""

    planned: PlannedScene
    lane: Backend
    number: int  # the scene's attempt number in this run
    began: float
    partial: Path
    work: Callable[[Report], ClipTiming]
    check: Callable[[], MediaInfo]


@dataclass(frozen=True)
class Back:
    """A clip back from its lane and kept, waiting for its checks."""

    flight: Flight
    lane: int
    due: float  # when its checks start at the latest (time.monotonic)


class Attempts(Protocol):
    """What the scheduler asks of the run: whether to go on, how to start an attempt, and where
    each outcome is written down (all called on the scheduler's thread)."""

    def stop_reason(self, planned: PlannedScene, *, in_flight: int) -> str | None:
        """Why no new clip may start now (a limit reached), or None."""
        ...

    def begin(self, planned: PlannedScene, lane: Backend, number: int, *, named: bool) -> Flight:
        """An attempt starts: the flight to run (named: say which lane)."""
        ...

    def under_way(self, flight: Flight) -> None:
        """The attempt is on its lane: write it down (off the request's path)."""
        ...

    def keep(self, flight: Flight, timing: ClipTiming) -> None:
        """The clip is back: give it its take's name before anything else happens to it."""
        ...

    def failed(self, flight: Flight, exc: F1genError, *, last: bool) -> None:
        """A failed attempt (a failed run, a rejected clip: nothing of it stays); last: the
        scene is given up."""
        ...

    def stopped(self, flight: Flight, exc: F1genError) -> None:
        """The lane stopped (quota, busy, configuration): not the scene's fault."""
        ...

    def abandoned(self, flight: Flight) -> None:
        """The clips folder cannot hold the clip: the run stops."""
        ...

    def held(self, flight: Flight, exc: F1genError) -> None:
        """A request may already be paid and cannot be looked up: the scene waits for the
        user's word; not the scene's failure."""
        ...

    def accepted(self, flight: Flight, info: MediaInfo) -> PlannedScene | None:
        """The clip passed its checks; the scene again when it wants another take."""
        ...


class Scheduler:
    """The scheduling state of one generate run: pending scenes, free lanes, clips in flight."""

    def __init__(
        self,
        lanes: list[Backend],
        *,
        state: RunState,
        attempts: Attempts,
        emit: Emit,
        max_attempts: int,
        force: bool,
        limits: Limits,
        now: Callable[[], datetime],
        sleep: Callable[[float], None],
    ) -> None:
        self.lanes, self.state, self.attempts, self.emit = lanes, state, attempts, emit
        self.max_attempts, self.force, self.limits = max_attempts, force, limits
        self.now, self.sleep = now, sleep
        self.several = len({lane.identity for lane in lanes}) > 1
        self.pending: deque[PlannedScene] = deque()
        self.running: dict[Future[ClipTiming], Flight] = {}
        self.lane_of: dict[Future[ClipTiming], int] = {}
        self.back: deque[Back] = deque()  # clips back from their lanes, not checked yet
        self.checking: dict[Future[MediaInfo], Back] = {}  # their checks, on threads of their own
        self.held: set[int] = set()  # lanes back again before their last clip was judged
        self.connecting: dict[Future[None], int] = {}  # lanes being prepared, on their own thread
        self.free = list(range(len(lanes)))
        self.out: dict[int, F1genError] = {}
        self.prepared: set[int] = set()
        self.tries: dict[str, int] = {}
        self.events: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self.launching = True
        self.stopped: str | None = None  # why no more clips were started, when a limit said so

    def run(self, todo: list[PlannedScene]) -> None:
        """Hand scenes to free lanes (one clip in flight each) and land what comes back."""
        self.check_quota()
        self.pending.extend(todo)
        try:
            while True:
                interrupts.raise_if_received()  # a Ctrl-C swallowed in a finalizer still stops
                self.launch()
                if not self.running:
                    self.check(all_of_them=True)  # nothing is being sent: check what came back
                if not self.running and not self.checking:
                    if self.pending and self.launching and not self.free and not self.connecting:
                        self.wait_for_lanes()  # raises when no lane can come back
                        continue
                    # A lane still connecting is waited for only while new clips may start.
                    if not (self.pending and self.launching and self.connecting):
                        break
                watched: set[Future[Any]] = {*self.running, *self.connecting, *self.checking}
                done, _ = wait(watched, timeout=self._patience(), return_when=FIRST_COMPLETED)
                self.drain()
                for future in done:
                    if future in self.connecting:
                        self.connected(future)
                    elif future not in self.checking:
                        self.land(future)
                self.judge()
                self.check(all_of_them=False)
        except BaseException as exc:
            for lane in self.lanes:
                lane.interrupt()
            if not isinstance(exc, KeyboardInterrupt):  # a stop: what came back still counts
                self._finish_checks()
            self._let_go()
            raise
        finally:
            self.drain()

    def _finish_checks(self) -> None:
        """The run stops: the clips that came back are still checked, and kept if they pass."""
        self.check(all_of_them=True)
        if self.checking:
            wait(self.checking, timeout=GRACE_SECONDS)
        with contextlib.suppress(F1genError):
            self.judge()

    def _patience(self) -> float:
        """How long to wait for the lanes before looking again: until the next check is due."""
        if not self.back:
            return 0.1
        return min(0.1, max(0.0, self.back[0].due - time.monotonic()))

    def _let_go(self) -> None:
        """The run ends early: give the lanes a moment to give up their clips, then leave no
        half-made or unchecked partial file behind (a clip kept under its take's name stays:
        the next run checks it before it uses it)."""
        if self.running:
            wait(self.running, timeout=GRACE_SECONDS)
        unchecked = [*self.back, *self.checking.values()]
        for flight in [*self.running.values(), *(back.flight for back in unchecked)]:
            flight.partial.unlink(missing_ok=True)

    # Lanes in and out of rotation.

    def check_quota(self) -> None:
        """Take out, without calling them, lanes whose quota is known to be spent.

        The quota is per account: a stop recorded under another account (anonymous, or another
        token) does not hold for this one. --force tries anyway, with a warning.
        """
        now = self.now()
        for index, lane in enumerate(self.lanes):
            until = self.state.retry_after.get(lane.identity)
            if until is None:
                continue
            retry_at = datetime.fromisoformat(until)
            account = self.state.retry_account.get(lane.identity)
            if now < retry_at and account not in (None, lane.account):
                self.emit(Notice(
                    f"{lane.identity}: the quota stop until {retry_at:%Y-%m-%d %H:%M} UTC was "
                    "for another account: trying with this one"
                ))  # fmt: skip
            elif now < retry_at and self.force:
                self.emit(Notice(
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
        if self.several:
            self.emit(Notice(f"{identity} is out of rotation: {reason.message}"))

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
            if self._wait_until(soonest):
                for index, retry_at in quotas.items():
                    if retry_at <= self.now():
                        del self.out[index]
                        self.state.retry_after.pop(self.lanes[index].identity, None)
                        self.state.retry_account.pop(self.lanes[index].identity, None)
                        self.free.append(index)
                return
        reasons = list(self.out.values())
        if not self.several or not any(isinstance(r, ResumableStop) for r in reasons):
            raise reasons[-1]  # one endpoint's own error; or every endpoint misconfigured: exit 3
        # Some endpoint is only resting (quota, outage): the run is resumable.
        message = f"no endpoint can take work ({'; '.join(r.message for r in reasons)})"
        if all(isinstance(r, QuotaExceeded) for r in reasons):
            raise QuotaExceeded(message, retry_at=min(quotas.values(), default=None))
        raise ResumableStop(message)

    def _wait_until(self, retry_at: datetime) -> bool:
        """With --wait, sleep until the quota returns if that is inside the window."""
        if not self.limits.wait:
            return False
        now = self.now()
        window = self.limits.window
        if window is not None and not (
            window.contains(retry_at) and window.closes_at(now) == window.closes_at(retry_at)
        ):
            return False
        self.emit(Notice(f"quota exhausted until {retry_at:%H:%M} UTC: waiting for it (--wait)"))
        self.sleep(max(0.0, (retry_at - now).total_seconds()))
        return True

    # Launching and landing attempts.

    def launch(self) -> None:
        """Start attempts on free lanes while there is work and nothing says stop."""
        while self.launching and self.pending and self.free:
            planned = self.pending[0]
            in_flight = len(self.running) + len(self.back) + len(self.checking)
            reason = self.attempts.stop_reason(planned, in_flight=in_flight)
            if reason is not None:
                self.stopped = reason
                self.launching = False
                return
            index = self.free.pop(0)
            if index not in self.prepared:  # outside the window nothing is even connected
                self._connect(index, alone=len(self.lanes) == 1)
                continue
            self.pending.popleft()
            self._start(planned, index)

    def _connect(self, index: int, *, alone: bool) -> None:
        """Prepare a lane. Alone, right here, each retry shown as it happens; with several
        lanes, on a thread of its own, so that one endpoint's backoff never holds up another."""
        lane = self.lanes[index]
        if alone:
            try:
                lane.prepare(lambda update: self.emit(Notice(update.message)))
            except (ResumableStop, ConfigError) as exc:
                self._take_out(index, exc)
                return
            self.prepared.add(index)
            self.free.insert(0, index)
            return
        name = lane.identity
        report = lambda update: self.events.put(Notice(f"{name}: {update.message}"))  # noqa: E731
        self.connecting[in_background(lambda: lane.prepare(report))] = index

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

    def _start(self, planned: PlannedScene, index: int) -> None:
        scene = planned.scene
        number = self.tries[scene.id] = self.tries.get(scene.id, 0) + 1
        flight = self.attempts.begin(planned, self.lanes[index], number, named=len(self.lanes) > 1)

        def progress(update: BackendUpdate) -> None:
            self.events.put(SceneProgress(scene, update))

        future = in_background(lambda: flight.work(progress), name="f1gen-lane")
        self.running[future] = flight
        self.lane_of[future] = index
        self.attempts.under_way(flight)

    def land(self, future: Future[ClipTiming]) -> None:
        """Take what an attempt came back with: keep the clip, give the lane its next scene,
        then check the clip and accept it; or free the lane, or take it out, by what failed."""
        flight, index = self.running.pop(future), self.lane_of.pop(future)
        self.check(all_of_them=True)  # a later clip is back: the earlier ones wait no longer
        try:
            timing = future.result()
            self.attempts.keep(flight, timing)
        except F1genError as exc:
            flight.partial.unlink(missing_ok=True)  # no half-made clip stays behind
            self._no_clip(flight, index, exc)
            return
        self.back.append(Back(flight, index, time.monotonic() + SETTLE_SECONDS))
        # The next request goes out before this clip is checked; but a lane whose last clip is
        # not judged yet waits for it (what that clip took informs the limits of the next).
        if self._unjudged(index) > 1:
            self.held.add(index)
        else:
            self._release(index)

    def _unjudged(self, index: int) -> int:
        """How many of a lane's clips are back and not judged yet."""
        return sum(back.lane == index for back in [*self.back, *self.checking.values()])

    def check(self, *, all_of_them: bool) -> None:
        """Start the checks of the clips that came back (those whose time is due, or all)."""
        now = time.monotonic()
        while self.back and (all_of_them or self.back[0].due <= now):
            back = self.back.popleft()
            self.checking[in_background(back.flight.check, name="f1gen-check")] = back

    def judge(self) -> None:
        """Accept each clip whose checks are done, or count a failed attempt, in the order the
        clips came back."""
        while self.checking:
            future, back = next(iter(self.checking.items()))
            if not future.done():
                return
            del self.checking[future]
            try:
                info = future.result()
            except MediaError as exc:  # a clip that fails its checks
                self._no_clip(back.flight, back.lane, exc, freed=True)
            else:
                again = self.attempts.accepted(back.flight, info)
                if again is not None:  # its next take, after the other scenes' pending ones
                    self.tries[again.scene.id] = 0
                    self.pending.append(again)
            if back.lane in self.held and self._unjudged(back.lane) <= 1:
                self.held.discard(back.lane)  # its last clip is judged: the one back since waits
                self._release(back.lane)

    def _no_clip(self, flight: Flight, index: int, exc: F1genError, *, freed: bool = False) -> None:
        """An attempt came back without a clip: stop, retry, give up on the scene, or take the
        lane out of rotation, by what went wrong (freed: its lane took other work already)."""
        planned = flight.planned
        if isinstance(exc, WriteError):  # the folder cannot hold clips: nothing more is spent
            self.attempts.abandoned(flight)
            raise exc
        if isinstance(exc, HeldBack):  # the user's word is needed: not a failure, not retried
            self.attempts.held(flight, exc)
            if not freed:
                self._release(index)
            return
        if isinstance(exc, GenerationError | MediaError):  # a failed attempt: retried
            last = flight.number >= self.max_attempts
            self.attempts.failed(flight, exc, last=last)
            if not freed:
                self._release(index)
            if not last:
                self.pending.appendleft(planned)
            return
        lane = flight.lane  # quota, a busy Space, configuration: this lane stops
        if isinstance(exc, QuotaExceeded) and exc.retry_at is not None:
            self.state.retry_after[lane.identity] = exc.retry_at.isoformat()
            self.state.retry_account[lane.identity] = lane.account
        self.attempts.stopped(flight, exc)
        self.tries[planned.scene.id] -= 1  # not the scene's fault: it goes to another lane
        self.pending.appendleft(planned)
        self._take_out(index, exc)

    def drain(self) -> None:
        """Pass on what the lanes reported."""
        while True:
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                return
            self.emit(event)


def in_background(call: Callable[[], T], *, name: str = "f1gen-connect") -> Future[T]:
    """Run call on a daemon thread: a lane still backing off never keeps the process alive."""
    future: Future[T] = Future()

    def run() -> None:
        try:
            result = call()
        except BaseException as exc:  # handed to the run's thread, which judges it
            future.set_exception(exc)
        else:
            future.set_result(result)

    threading.Thread(target=run, name=name, daemon=True).start()
    return future
