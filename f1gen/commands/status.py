"""f1gen status: every scene's state as a table (or JSON), and what the run has spent."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from .options import JsonOpt, OptionalStoryboard, WorkdirOpt, print_json

if TYPE_CHECKING:
    from rich.table import Table

    from ..status import StatusTable

COLUMNS = ("#", "scene", "state", "tries", "gen s", "queue s", "video s", "clip", "bucket",
           "last error")  # fmt: skip


def status(
    storyboard: OptionalStoryboard = None, workdir: WorkdirOpt = None, as_json: JsonOpt = False
) -> None:
    """Show every scene's state: done or not, attempts, times, clip, last error."""
    from rich.console import Console

    from ..config import load_settings
    from ..status import table as status_table
    from ..workspace import open_workspace

    work = open_workspace(storyboard, workdir=workdir, decode_media=False)
    settings = load_settings()
    result = status_table(work.storyboard, work.workdir, bucketed=bool(settings.bucket))
    if as_json:
        print_json(result.as_dict())
        return
    out = Console(highlight=False)
    if not out.is_terminal:  # a log or a pipe: no reason to squeeze the table into 80 columns
        out.width = 200
    out.print(_table(result, title=f"{work.storyboard.title} ({work.workdir})"))
    typer.echo(
        f"{result.ready}/{len(result.rows)} scenes ready; {result.time_words()}"
        + (f", paid ${result.cost_usd:.2f}" if result.cost_usd else "")
    )
    for identity, until in result.retry_after.items():
        typer.echo(f"{identity}: quota exhausted until {until}")
    for row in result.rows:
        if row.note:
            typer.echo(f"{row.number} ({row.id}): {row.note}")
    for key, cast in result.characters.items():
        reference = cast["reference"]
        shown = reference["shown"] if reference else "none yet (no take with a voice)"
        typer.echo(f"{key}: reference voice {shown}")


def _table(result: StatusTable, *, title: str) -> Table:
    """The rows as a rich table."""
    from rich.table import Table

    table = Table(title=title)
    cast = bool(result.characters)  # a voice column where characters are checked
    for column in COLUMNS + (("voice",) if cast else ()):
        table.add_column(column, overflow="fold")
    for row in result.rows:
        table.add_row(
            str(row.number),
            row.id,
            row.state,
            f"{row.attempts} (+{row.interrupted} interrupted)"
            if row.interrupted
            else str(row.attempts),
            f"{row.gen_seconds:.1f}",
            f"{row.queue_seconds:.1f}",
            f"{row.video_seconds:.2f}" if row.video_seconds else "-",
            row.clip or "-",
            {True: "yes", False: "no", None: "-"}[row.uploaded],
            row.last_error or "",
            *((row.voice_shown,) if cast else ()),
        )
    return table
