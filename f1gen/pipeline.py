"""Generate's one door: a frozen request in; a preview (the plan and every backend's estimate)
or a run (generate, log, stitch when all is done, notify, exit code) out. The command renders."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from . import costs
from . import stitch as stitching
from .backends import REGISTRY, Backend, build_lanes, close_lanes, factory
from .errors import ExitCode, F1genError
from .estimate import Estimate, clip_steps, compare, model_scale
from .events import Emit, Event, Notice, Summary
from .notify import post_json
from .runlog import RunLog, summary_line
from .runner import Runner, RunOptions
from .status import table
from .workspace import open_storage

if TYPE_CHECKING:
    from .plan import PlannedScene
    from .scene import Scene, Storyboard
    from .settings import Settings
    from .storage import Storage


@dataclass(frozen=True)
class GenerateRequest:
    """One generate run as asked: what to make, on which backend, with which settings."""

    storyboard: Storyboard
    workdir: Path
    backend: str
    options: RunOptions
    settings: Settings
    parallel: int | None = None  # clips in flight at once (None: the backend's own)
    stitch_when_done: bool = False
    notify: str | None = None  # a URL that gets the run's summary


@dataclass(frozen=True)
class Preview:
    """What a run would make, what is already done, and what it would cost on each backend
    (no estimates when the chosen backend spends no GPU)."""

    backend: str
    todo: tuple[PlannedScene, ...]
    done: tuple[Scene, ...]
    estimates: tuple[Estimate, ...]
    ready: int = 0  # scenes ready for the cut, counted as `f1gen status` counts them
    total: int = 0
    clips: int = 0  # every take still to make
    max_cost: float | None = None  # --max-cost
    estimated_usd: float = 0.0  # the chosen backend's money for every clip
    refused: str | None = None  # why --max-cost refuses the run (the run would exit 2)
    scale: float = 1.0  # a clip of the chosen model's GPU time, in 5 s 720x720 clips

    @property
    def chosen(self) -> Estimate | None:
        """The chosen backend's estimate, if it spends GPU."""
        return next((e for e in self.estimates if e.backend == self.backend), None)

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready view (what --dry-run --json prints)."""
        mine = self.chosen
        return {
            "generate": [
                {
                    "number": p.scene.number,
                    "id": p.scene.id,
                    "steps": p.steps,
                    "seed": p.seed,
                    "takes": p.takes,
                }
                for p in self.todo
            ],
            "already_done": [s.id for s in self.done],
            "clips": self.clips,
            "max_cost": None
            if self.max_cost is None
            else {
                "usd": self.max_cost,
                "estimated_usd": round(self.estimated_usd, 2),
                "fits": self.refused is None,
            },
            "ready": self.ready,
            "scenes": self.total,
            "gpu_seconds": round(mine.gpu_seconds if mine else 0.0),
            "quota_days": mine.quota_days if mine else None,
            "backend": self.backend,
            "estimates": [e.as_dict() for e in self.estimates],
        }


def preview(request: GenerateRequest) -> Preview:
    """The plan and the estimates, without taking the lock or changing anything."""
    lanes = _lanes(request)
    cap = request.options.limits.max_cost
    try:
        runner = Runner(request.storyboard, workdir=request.workdir, lanes=lanes)
        todo, done = runner.preview(request.options)
        usd, refused = costs.planned_usd(todo, lanes[0]), costs.refusal(todo, lanes[0], cap)
        scale = model_scale(lanes[0].identity)  # its model's clips: pixels and seconds
    finally:
        close_lanes(lanes)
    steps = clip_steps(todo)  # every take still to make, as the run counts them
    estimates: list[Estimate] = []
    if factory(request.backend).price.kind != "free":
        wide = {request.backend: request.parallel} if request.parallel else {}
        estimates = compare(steps, tuple(REGISTRY), parallel=wide, scale={request.backend: scale})
    ready = table(request.storyboard, request.workdir).ready
    return Preview(request.backend, tuple(todo), tuple(done), tuple(estimates), ready,
                   len(request.storyboard.scenes), clips=len(steps), max_cost=cap,
                   estimated_usd=usd, refused=refused, scale=scale)  # fmt: skip


def run(request: GenerateRequest, emit: Emit) -> Outcome:
    """Make the clips: the backend's notices first, then the run with its log."""
    for notice in factory(request.backend).notices(request.settings):
        emit(Notice(notice))
    storage = open_storage(request.settings, prefix=request.workdir.resolve().name)
    lanes = _lanes(request)
    try:
        return _run_logged(
            request.storyboard,
            workdir=request.workdir,
            lanes=lanes,
            options=request.options,
            settings=request.settings,
            storage=storage,
            emit=emit,
            stitch_when_done=request.stitch_when_done,
            notify=request.notify,
        )
    finally:
        close_lanes(lanes)


def _lanes(request: GenerateRequest) -> list[Backend]:
    return build_lanes(
        request.backend,
        settings=request.settings,
        workdir=request.workdir,
        parallel=request.parallel,
    )


@dataclass(frozen=True)
class Outcome:
    """What a run did, its summary line, the cut if one was made, and the exit code."""

    summary: Summary
    line: str
    cut: stitching.StitchResult | None
    exit_code: ExitCode
    ready: int = 0  # scenes ready for the cut after the run, as `f1gen status` counts them
    total: int = 0

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready view (also what --notify posts)."""
        return {
            **self.summary.as_dict(),
            "summary": self.line,
            "exit_code": int(self.exit_code),
            "cut": self.cut.as_dict() if self.cut else None,
        }


def _run_logged(
    storyboard: Storyboard,
    *,
    workdir: Path,
    lanes: list[Backend],
    options: RunOptions,
    settings: Settings,
    storage: Storage | None,
    emit: Emit,
    stitch_when_done: bool = False,
    notify: str | None = None,
) -> Outcome:
    """Run the generate loop with its log; stitch and notify as asked."""
    with RunLog(workdir, redact=settings.redact) as log:

        def both(event: Event) -> None:
            log(event)
            emit(event)

        runner = Runner(storyboard, workdir=workdir, lanes=lanes, emit=both, storage=storage)
        try:
            summary = runner.run(options)
        except F1genError as exc:
            log.line(f"stopped: {exc.message}")
            payload = {"summary": f"stopped: {exc.message}", "exit_code": int(exc.exit_code)}
            _notify(notify, payload, log, emit)
            raise
        # The storyboard and the state the run holds go on to the table and the cut: read once.
        ready = table(storyboard, workdir, state=runner.state).ready
        cut = None
        if stitch_when_done and ready == len(storyboard.scenes) and not summary.stopped:
            log.line("all scenes done: stitching")
            cut = stitching.stitch(
                storyboard,
                workdir=workdir,
                ffmpeg=settings.ffmpeg,
                storage=storage,
                state=runner.state,
            )
            log.line(f"final cut: {cut.output}" + (f" ({cut.link})" if cut.link else ""))
        line = summary_line(summary, total=len(storyboard.scenes), ready=ready)
        log.line(line)
        if summary.stopped:
            code = ExitCode.RESUMABLE
        elif summary.failed:
            code = ExitCode.FAILED
        else:
            code = ExitCode.OK
        outcome = Outcome(summary, line, cut, code, ready, len(storyboard.scenes))
        _notify(notify, outcome.as_dict(), log, emit)
        return outcome


def _notify(url: str | None, payload: dict[str, object], log: RunLog, emit: Emit) -> None:
    """POST the summary; a failure is logged and shown, never fatal."""
    if not url:
        return
    problem = post_json(url, payload)
    if problem is None:
        log.line(f"notified {url}")
        return
    log.line(f"notification failed: {problem}")
    emit(Notice(f"warning: notification failed: {problem}"))
