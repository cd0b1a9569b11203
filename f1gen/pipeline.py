"""One generate run as cron sees it: generate, log, stitch when all is done, notify, exit code."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from . import stitch as stitching
from .errors import ExitCode, F1genError
from .events import Emit, Event, Notice, Summary
from .notify import post_json
from .runlog import RunLog, summary_line
from .runner import Runner, RunOptions
from .status import table

if TYPE_CHECKING:
    from .backends import Backend
    from .config import Settings
    from .scene import Storyboard
    from .storage import Storage


@dataclass(frozen=True)
class Outcome:
    """What a run did, its summary line, the cut if one was made, and the exit code."""

    summary: Summary
    line: str
    cut: stitching.StitchResult | None
    exit_code: ExitCode

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready view (also what --notify posts)."""
        return {
            **self.summary.as_dict(),
            "summary": self.line,
            "exit_code": int(self.exit_code),
            "cut": self.cut.as_dict() if self.cut else None,
        }


def run_generate(
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
        outcome = Outcome(summary, line, cut, code)
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
