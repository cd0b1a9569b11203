"""Scheduling scenes over lanes: one clip in flight on each endpoint at a time.

A lane is one backend that takes one clip at a time (a Space, a self-hosted app, a slot of a
hosted queue). The scheduler connects lanes, hands pending scenes to free ones, lands what comes
back, takes a lane out of rotation when it stops (a quota, an outage, a refused key) and brings
it back when its quota returns (--wait). What an attempt does and where its outcome is written
down is not its business: it asks its Attempts for that.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .errors import (
    ConfigError,
    F1genError,
    GenerationError,
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

Landed = tuple["MediaInfo", "ClipTiming"]


@dataclass(frozen=True)
class Flight:
    """One attempt at a scene on a lane: work is what runs there (report: its progress)."""

    planned: PlannedScene
    lane: Backend
    number: int  # the scene's attempt number in this run
    began: float
    partial: Path
    work: Callable[[Report], Landed]


class Attempts(Protocol):
    """What the scheduler asks of the run: whether to go on, how to start an attempt, and where
    each outcome is written down (all called on the scheduler's thread)."""

    def stop_reason(self, planned: PlannedScene, *, in_flight: int) -> str | None:
        """Why no new clip may start now (a limit reached), or None."""
        ...

    def begin(self, planned: PlannedScene, lane: Backend, number: int, *, named: bool) -> Flight:
        """Record that an attempt starts; the flight to run (named: say which lane)."""
        ...

    def failed(self, flight: Flight, exc: F1genError, *, last: bool) -> None:
        """A failed attempt (a failed run, a rejected clip); last: the scene is given up."""
        ...

    def stopped(self, flight: Flight, exc: F1genError) -> None:
        """The lane stopped (quota, busy, configuration): not the scene's fault."""
        ...

    def abandoned(self, flight: Flight) -> None:
        """The clips folder cannot hold the clip: the run stops."""
        ...

    def accepted(self, flight: Flight, info: MediaInfo, timing: ClipTiming) -> PlannedScene | None:
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
        self.running: dict[Future[Landed], Flight] = {}
        self.lane_of: dict[Future[Landed], int] = {}
        self.connecting: dict[Future[None], int] = {}  # lanes being prepared, on their own thread
        self.free = list(range(len(lanes)))
        self.out: dict[int, F1genError] = {}
        self.prepared: set[int] = set()
        self.tries: dict[str, int] = {}
        self.events: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self.launching = True
        self.stopped: str | None = None  # why no more clips were started, when a limit said so

    def run(self, todo: list[PlannedScene]) -> None:
        """Hand scenes to free lanes (one clip in flight each) and land what comes back.

        Only this thread changes the state; lanes report progress through a queue. With one
        lane everything runs right here, one clip after another.
        """
        self.check_quota()
        pool = (
            ThreadPoolExecutor(len(self.lanes), thread_name_prefix="f1gen-lane")
            if len(self.lanes) > 1
            else None
        )
        self.pending.extend(todo)
        try:
            while self.pending or self.running:
                self.launch(pool)
                # A lane still connecting is waited for only while new clips may start.
                if not self.running and (not self.connecting or not self.launching):
                    if self.pending and self.launching and not self.free:
                        self.wait_for_lanes()  # raises when no lane can come back
                        continue
                    break
                watched: set[Future[Any]] = {*self.running, *self.connecting}
                done, _ = wait(watched, timeout=0.1, return_when=FIRST_COMPLETED)
                self.drain()
                for future in done:
                    if future in self.connecting:
                        self.connected(future)
                    else:
                        self.land(future)
        except BaseException:
            for lane in self.lanes:
                lane.interrupt()
            raise
        finally:
            self.drain()
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)

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

    def launch(self, pool: ThreadPoolExecutor | None) -> None:
        """Start attempts on free lanes while there is work and nothing says stop."""
        while self.launching and self.pending and self.free:
            planned = self.pending[0]
            reason = self.attempts.stop_reason(planned, in_flight=len(self.running))
            if reason is not None:
                self.stopped = reason
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

    def _start(self, planned: PlannedScene, index: int, pool: ThreadPoolExecutor | None) -> None:
        scene = planned.scene
        number = self.tries[scene.id] = self.tries.get(scene.id, 0) + 1
        flight = self.attempts.begin(planned, self.lanes[index], number, named=len(self.lanes) > 1)

        def progress(update: BackendUpdate) -> None:
            self.events.put(SceneProgress(scene, update))

        future: Future[Landed]
        if pool is not None:
            future = pool.submit(flight.work, progress)
        else:
            future = Future()
            try:
                future.set_result(flight.work(lambda u: self.emit(SceneProgress(scene, u))))
            except Exception as exc:  # landed below, like a thread's
                future.set_exception(exc)
            except BaseException:  # Ctrl-C, SIGTERM: no half-made take stays behind
                flight.partial.unlink(missing_ok=True)
                raise
        self.running[future] = flight
        self.lane_of[future] = index

    def land(self, future: Future[Landed]) -> None:
        """Pass on what an attempt came back with; free its lane, or take the lane out."""
        flight, index = self.running.pop(future), self.lane_of.pop(future)
        try:
            info, timing = future.result()
        except F1genError as exc:
            flight.partial.unlink(missing_ok=True)  # no half-made or rejected clip stays behind
            self._no_clip(flight, index, exc)
            return
        again = self.attempts.accepted(flight, info, timing)
        if again is not None:  # its next take, after the other scenes' pending ones
            self.tries[again.scene.id] = 0
            self.pending.append(again)
        self._release(index)

    def _no_clip(self, flight: Flight, index: int, exc: F1genError) -> None:
        """An attempt came back without a clip: stop, retry, give up on the scene, or take the
        lane out of rotation, by what went wrong."""
        planned = flight.planned
        if isinstance(exc, WriteError):  # the folder cannot hold clips: nothing more is spent
            self.attempts.abandoned(flight)
            raise exc
        if isinstance(exc, GenerationError | MediaError):  # a failed attempt: retried
            last = flight.number >= self.max_attempts
            self.attempts.failed(flight, exc, last=last)
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


def in_background(call: Callable[[], None]) -> Future[None]:
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
