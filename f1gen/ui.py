"""What the CLI shows: a rich progress bar on a terminal, timestamped lines everywhere else."""

from __future__ import annotations

from datetime import UTC, datetime
from types import TracebackType

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from .events import (
    Event,
    RunPlanned,
    SceneAccepted,
    SceneAttemptFailed,
    SceneProgress,
    SceneStarted,
)
from .runlog import describe


def stderr_console() -> Console:
    """The console for chatter; data goes to stdout."""
    return Console(stderr=True, highlight=False, soft_wrap=True)


def stamp() -> str:
    """A UTC timestamp for plain log lines."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class RunView:
    """Renders runner events: live bar on a terminal, one plain line per event otherwise."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.live = console.is_terminal
        self.progress: Progress | None = None
        self.task: TaskID | None = None
        self.total = 0
        self.current: dict[str, str] = {}

    def __enter__(self) -> RunView:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.progress is not None:
            self.progress.stop()

    def line(self, text: str) -> None:
        """One line of chatter: above the bar when live, timestamped when not."""
        if self.progress is not None:
            self.progress.console.print(escape(text))
        elif self.live:
            self.console.print(escape(text))
        else:
            self.console.print(f"{stamp()} {escape(text)}")

    def __call__(self, event: Event) -> None:
        if not self.live:
            text = describe(event)
            if text is not None:
                self.line(text)
            return
        if isinstance(event, RunPlanned):
            self.total = len(event.todo)
            self.line(describe(event) or "")
            if self.total:
                self.progress = Progress(
                    SpinnerColumn(),
                    TextColumn("{task.description}"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TimeElapsedColumn(),
                    TextColumn("ETA"),
                    TimeRemainingColumn(),
                    console=self.console,
                    transient=False,
                )
                self.progress.start()
                self.task = self.progress.add_task("starting", total=self.total)
        elif isinstance(event, SceneStarted):
            retry = f" (attempt {event.attempt}/{event.max_attempts})" if event.attempt > 1 else ""
            where = f" on {event.lane}" if event.lane else ""
            self.current[event.scene.id] = f"{event.scene.id}{retry}{where}"
            self._describe()
        elif isinstance(event, SceneProgress) and not event.update.notable:
            detail = event.update.message
            if event.update.fraction is not None:
                detail += f" {event.update.fraction:.0%}"
            self.current[event.scene.id] = f"{event.scene.id}: {detail}"
            self._describe()
        else:
            if isinstance(event, SceneAccepted | SceneAttemptFailed):
                self.current.pop(event.scene.id, None)
                self._describe()
            elif isinstance(event, SceneProgress):  # a retry: on the bar and above it, at once
                self.current[event.scene.id] = f"{event.scene.id}: {event.update.message}"
                self._describe()
            text = describe(event)
            if text is not None:
                self.line(text)
            finished = isinstance(event, SceneAccepted) or (
                isinstance(event, SceneAttemptFailed) and not event.will_retry
            )
            if finished and self.progress is not None and self.task is not None:
                self.progress.advance(self.task)

    def _describe(self) -> None:
        """One clip or several in flight (one per endpoint), on the bar's line."""
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, description=escape(" | ".join(self.current.values())))
