"""f1gen cron: a crontab entry for unattended off-peak runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .options import StoryboardArg, TzOpt, WindowOpt, WorkdirOpt, say

EveryOpt = Annotated[str, typer.Option(help="How often cron starts a run: 30m, 1h...")]
CronStitchOpt = Annotated[
    bool, typer.Option("--stitch", help="Add --stitch: the cut is made when all is done.")
]
CronNotifyOpt = Annotated[
    str | None, typer.Option(help="Add --notify URL to the entry.", show_default=False)
]
InstallOpt = Annotated[
    bool, typer.Option("--install", help="Add the entry to your crontab (idempotent).")
]


def cron(
    storyboard: StoryboardArg,
    window: WindowOpt = None,
    tz: TzOpt = "UTC",
    every: EveryOpt = "30m",
    stitch_when_done: CronStitchOpt = False,
    notify: CronNotifyOpt = None,
    install: InstallOpt = False,
    workdir: WorkdirOpt = None,
) -> None:
    """Print a crontab entry for unattended off-peak runs; --install adds it."""
    from ..cron import install as install_entry
    from ..cron import make_entry
    from ..notify import check_url
    from ..schedule import Window, parse_zone
    from ..workspace import open_workspace

    if notify is not None:
        check_url(notify)
    work = open_workspace(storyboard, workdir=workdir)
    parsed = Window.parse(window, parse_zone(tz)) if window else None
    extra = (["--stitch"] if stitch_when_done else []) + (["--notify", notify] if notify else [])
    if workdir is not None:
        extra += ["--workdir", str(workdir.resolve())]
    entry = make_entry(
        storyboard,
        window=parsed,
        window_text=window,
        tz=tz,
        every=every,
        project=Path.cwd(),
        workdir=work.workdir,
        extra=extra,
    )
    typer.echo(entry.line)
    env_state = (
        "found" if entry.env_file.is_file() else "not found: put HF_TOKEN and the rest there"
    )
    say(f"reads {entry.env_file} ({env_state}); logs to {entry.log_file}")
    if install:
        say("installed in your crontab" if install_entry(entry) else "already in your crontab")
