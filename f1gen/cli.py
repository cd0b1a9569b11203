"""The f1gen command line: parse options, call the library, render the result."""

from __future__ import annotations

import errno
import functools
import json
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import typer

from . import __version__
from .config import BACKENDS, Settings, load_settings
from .errors import BadInputError, ConfigError, ExitCode, F1genError, StoryboardError
from .words import counted

if TYPE_CHECKING:
    from rich.console import Console

    from .estimate import Estimate
    from .runner import Runner, RunOptions
    from .storage import Storage

# Heavy modules (pydantic, PIL, PyAV, gradio_client, boto3) load inside the commands that use
# them, so that `f1gen --help` and a cron run outside its window start fast.

app = typer.Typer(
    help="Turn a storyboard into a finished talking-character video with Ovi.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,  # plain help: rich's panels label every flag <bool>
)
P = ParamSpec("P")
MACHINE_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT}
R = TypeVar("R")

StoryboardArg = Annotated[
    Path, typer.Argument(help="The storyboard YAML file.", show_default=False)
]
OptionalStoryboard = Annotated[
    Path | None,
    typer.Argument(
        help="The storyboard YAML; default: the only run under out/.", show_default=False
    ),
]
WorkdirOpt = Annotated[
    Path | None,
    typer.Option(
        "--workdir", help="Work folder (default: out/<storyboard name>/).", show_default=False
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print a machine-readable result on stdout.")]
BucketOpt = Annotated[
    str | None,
    typer.Option(help="S3/MinIO bucket for clips and cuts (env F1GEN_BUCKET).", show_default=False),
]
WindowOpt = Annotated[
    str | None,
    typer.Option(
        help="Start clips only inside this daily window, e.g. 22:00-06:00.", show_default=False
    ),
]
TzOpt = Annotated[str, typer.Option(help="Time zone of --window.")]
CreateBucketOpt = Annotated[
    bool, typer.Option("--create-bucket", help="Create the bucket if it does not exist.")
]


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def reports_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn F1genError into one line on stderr and its exit code; Ctrl-C and SIGTERM into 130."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
        try:
            return command(*args, **kwargs)
        except StoryboardError as exc:
            for problem in exc.problems:
                stderr_console().print(f"error: {problem}", markup=False)
            raise typer.Exit(exc.exit_code) from None
        except F1genError as exc:
            stderr_console().print(f"error: {exc.message}", markup=False)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            stderr_console().print(
                "interrupted: nothing was lost; run the same command again to go on"
            )
            raise typer.Exit(ExitCode.INTERRUPTED) from None
        except OSError as exc:
            if not isinstance(exc, PermissionError) and exc.errno not in MACHINE_ERRNOS:
                raise  # anything else is a bug: let it surface
            # The machine, not the input: a folder f1gen may not write, a full disk.
            where = f"{exc.filename}: " if exc.filename else ""
            stderr_console().print(
                f"error: {where}cannot write ({exc.strerror}): fix the permissions or free disk "
                "space; what was there before is intact",
                markup=False,
            )
            raise typer.Exit(ExitCode.FAILED) from None
        finally:
            signal.signal(signal.SIGTERM, previous)

    return wrapper


def stderr_console() -> Console:
    """The console for chatter; data goes to stdout."""
    from .ui import stderr_console as make

    return make()


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"f1gen {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Turn a storyboard into a finished talking-character video with Ovi."""


@app.command()
@reports_errors
def validate(storyboard: StoryboardArg, as_json: JsonOpt = False) -> None:
    """Check a storyboard before anything is spent: schema, ids, images, footage, lint."""
    from . import storyboard as storyboards

    try:
        loaded = storyboards.load(storyboard)
    except BadInputError as exc:
        if as_json:
            problems = exc.problems if isinstance(exc, StoryboardError) else [exc.message]
            _print_json({"storyboard": str(storyboard), "ok": False, "problems": problems})
        raise
    console = stderr_console()
    for warning in loaded.warnings:
        console.print(f"warning: {warning}", markup=False)
    board = loaded.storyboard
    if as_json:
        _print_json(
            {
                "storyboard": str(board.path),
                "ok": True,
                "title": board.title,
                "scenes": len(board.scenes),
                "problems": [],
                "warnings": list(loaded.warnings),
            }
        )
    else:
        console.print(
            f"{storyboard}: {counted(len(board.scenes), 'scene')}, "
            f"{counted(len(loaded.warnings), 'warning')}: ok",
            markup=False,
        )


@app.command()
@reports_errors
def prompts(
    storyboard: StoryboardArg,
    backend: Annotated[
        str, typer.Option(help=f"Whose prompt format: {', '.join(BACKENDS)}.")
    ] = BACKENDS[0],
    as_json: JsonOpt = False,
) -> None:
    """Print the prompt every generated scene is sent with (Ovi's format on every backend today)."""
    from . import storyboard as storyboards
    from .backends import factory

    builder = factory(backend).prompt
    board = storyboards.load(storyboard).storyboard
    rows = [(s.number, s.id, builder.build(s)) for s in board.scenes if s.generated]
    if as_json:
        _print_json([{"number": n, "id": i, "prompt": p} for n, i, p in rows])
        return
    for number, scene_id, prompt in rows:
        typer.echo(f"{number:02d} {scene_id}: {prompt}")


@app.command()
@reports_errors
def generate(
    storyboard: StoryboardArg,
    backend: Annotated[
        str, typer.Option(help=f"Who makes the clips: {', '.join(BACKENDS)}.")
    ] = BACKENDS[0],
    only: Annotated[
        str | None,
        typer.Option(
            help="Scenes to make, by number, range or id: '3,5-7,pit-wall'.", show_default=False
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Make the chosen scenes again even if done; ignore a stored quota stop."
        ),
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Show what would be made and the GPU estimate; make nothing."
        ),
    ] = False,
    sample_steps: Annotated[
        int | None,
        typer.Option(
            min=10,
            max=100,
            help="Ovi sample steps for scenes that set none; beats the storyboard's defaults "
            "(env OVI_SAMPLE_STEPS, default 40).",
            show_default=False,
        ),
    ] = None,
    attempts: Annotated[
        int, typer.Option(min=1, max=20, help="Attempts per scene before it fails.")
    ] = 3,
    space: Annotated[
        str | None,
        typer.Option(help="Ovi Space id or URL (env OVI_SPACE).", show_default=False),
    ] = None,
    hf_token: Annotated[
        str | None,
        typer.Option(help="Hugging Face token (env HF_TOKEN; prefer .env).", show_default=False),
    ] = None,
    clip_timeout: Annotated[
        int | None,
        typer.Option(help="Minutes before a clip's job is cancelled (default 15).", min=1),
    ] = None,
    window: WindowOpt = None,
    tz: TzOpt = "UTC",
    max_clips: Annotated[
        int | None, typer.Option(min=1, help="Stop (exit 75) after this many new clips.")
    ] = None,
    budget: Annotated[
        float | None,
        typer.Option(min=0, help="Stop (exit 75) before passing this many GPU minutes."),
    ] = None,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait",
            help="On a quota stop, sleep until the quota returns if that is in the window.",
        ),
    ] = False,
    stitch_when_done: Annotated[
        bool, typer.Option("--stitch", help="Stitch (and upload) the cut once every scene is done.")
    ] = False,
    notify: Annotated[
        str | None,
        typer.Option(
            help="POST the run's summary as JSON to this URL when it ends.", show_default=False
        ),
    ] = None,
    bucket: BucketOpt = None,
    create_bucket: CreateBucketOpt = False,
    seed: Annotated[
        int | None,
        typer.Option(
            min=0, max=2**31 - 1, help="Seed for scenes that set none.", show_default=False
        ),
    ] = None,
    parallel: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=64,
            help="Clips in flight at once (default: the backend's, 8 for hosted).",
            show_default=False,
        ),
    ] = None,
    max_cost: Annotated[
        float | None,
        typer.Option(
            min=0, help="Refuse or stop (exit 75) a run past this many USD.", show_default=False
        ),
    ] = None,
    resend_unknown: Annotated[
        bool,
        typer.Option(help="Send again requests whose sending was cut off (fal: check first)."),
    ] = False,
    takes: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=10,
            help="Takes per scene for scenes that set none; beats the storyboard's defaults.",
            show_default=False,
        ),
    ] = None,
    checks: Annotated[
        bool | None,
        typer.Option(
            "--checks/--no-checks",
            help="Check every take and regenerate one that fails a hard check (env F1GEN_CHECKS; "
            "default on where the backend's clips can be judged).",
            show_default=False,
        ),
    ] = None,
    workdir: WorkdirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Generate every scene's clip, resumably: in parallel lanes over several endpoints or
    a hosted queue, else one after another."""
    from . import runner
    from .backends import build_lanes, close_lanes
    from .notify import check_url
    from .pipeline import run_generate
    from .plan import parse_only
    from .schedule import Limits, Window, parse_zone
    from .ui import RunView
    from .workspace import open_workspace

    settings = load_settings(
        {
            "sample_steps": sample_steps,
            "ovi_space": space,
            "hf_token": hf_token,
            "clip_timeout_minutes": clip_timeout,
            "bucket": bucket,
            "resend_unknown": resend_unknown,
            "checks": checks,
        }
    )
    if notify is not None:
        check_url(notify)
    work = open_workspace(storyboard, workdir=workdir)
    console = stderr_console()
    for warning in work.warnings:
        console.print(f"warning: {warning}", markup=False)
    if backend == "ovi" and not settings.hf_token and not dry_run:
        console.print(
            "note: no HF_TOKEN set: running on the anonymous ZeroGPU quota (about 2 "
            "minutes a day); set HF_TOKEN in .env for more",
            markup=False,
        )
    options = runner.RunOptions(
        only=parse_only(only, work.storyboard) if only is not None else None,
        force=force,
        max_attempts=attempts,
        default_steps=settings.sample_steps,
        default_seed=seed,
        steps=sample_steps,
        takes=takes,
        checks=settings.checks,
        create_bucket=create_bucket,
        limits=Limits(
            window=Window.parse(window, parse_zone(tz)) if window else None,
            max_clips=max_clips,
            budget_seconds=budget * 60 if budget is not None else None,
            wait=wait,
            max_cost=max_cost,
        ),
    )
    lanes = build_lanes(backend, settings=settings, workdir=work.workdir, parallel=parallel)
    try:
        if dry_run:
            _show_plan(
                runner.Runner(work.storyboard, workdir=work.workdir, lanes=lanes),
                options,
                as_json=as_json,
                chosen=(backend, parallel),
            )
            return
        with RunView(console) as view:
            outcome = run_generate(
                work.storyboard,
                workdir=work.workdir,
                lanes=lanes,
                options=options,
                settings=settings,
                storage=_storage(settings, work.workdir.resolve().name),
                emit=view,
                stitch_when_done=stitch_when_done,
                notify=notify,
            )
    finally:
        close_lanes(lanes)
    summary = outcome.summary
    if as_json:
        _print_json(outcome.as_dict())
    console.print(
        f"{len(summary.done)} generated, {len(summary.skipped)} already done, "
        f"{len(summary.failed)} failed in {summary.seconds:.1f} s; "
        f"state: {work.workdir / 'state.json'}",
        markup=False,
    )
    if summary.local_only:
        console.print(
            f"{counted(len(summary.local_only), 'clip')} only local (storage was unavailable): "
            "run 'f1gen push' when it is back",
            markup=False,
        )
    elif summary.uploaded:
        console.print(f"{counted(len(summary.uploaded), 'clip')} in the bucket", markup=False)
    if outcome.cut is not None:
        console.print(f"final cut: {outcome.cut.output}", markup=False)
    if summary.failed:
        console.print(
            f"failed: {', '.join(summary.failed)}: see 'f1gen status', then re-run to retry",
            markup=False,
        )
    if summary.stopped:
        console.print(f"stopped: {summary.stopped}", markup=False)
    raise typer.Exit(outcome.exit_code)


def _show_plan(
    run: Runner, options: RunOptions, *, as_json: bool, chosen: tuple[str, int | None]
) -> None:
    """What a run would make and what it would cost; no quota figures for the offline animatic."""
    from .backends import factory
    from .estimate import compare, estimate_seconds

    todo, skipped = run.preview(options)
    name, parallel = chosen
    gpu = factory(name).price.kind != "free"
    wide = {name: parallel} if parallel else {}
    estimates = compare([p.steps for p in todo], BACKENDS, parallel=wide) if gpu else []
    mine = next((e for e in estimates if e.backend == name), None)
    seconds = mine.gpu_seconds if mine else 0.0
    if as_json:
        _print_json(
            {
                "generate": [
                    {"number": p.scene.number, "id": p.scene.id, "steps": p.steps, "seed": p.seed}
                    for p in todo
                ],
                "already_done": [s.id for s in skipped],
                "gpu_seconds": round(seconds),
                "quota_days": mine.quota_days if mine else None,
                "backend": name,
                "estimates": [e.as_dict() for e in estimates],
            }
        )
        return
    for planned in todo:
        cost = f", ~{estimate_seconds(planned.steps):.0f} s GPU" if gpu else ""
        typer.echo(
            f"would generate {planned.scene.number:02d} {planned.scene.id} "
            f"({planned.steps} steps{cost})"
        )
    done = f"{len(todo)} to generate, {len(skipped)} already done"
    if mine is None:
        typer.echo(f"{done}; rendered here: no GPU quota is spent")
        return
    typer.echo(f"{done}; about {seconds / 60:.1f} GPU minutes{_quota_words(mine)}")
    for line in _estimate_lines(estimates, chosen=name):
        typer.echo(line)


def _quota_words(chosen: Estimate) -> str:
    """What the clips take of a ZeroGPU quota, from the figures of the table's 'per day'."""
    per_day, days = chosen.clips_per_day, chosen.quota_days
    if per_day is None or days is None:
        return ""

    def on(plan: str, account: str) -> str:
        whole = days[plan]
        if whole is None:
            return f"not one clip a day on {account}"
        return f"{counted(per_day[plan], 'clip')} a day on {account} ({counted(whole, 'day')})"

    return (
        f"; ZeroGPU charges {chosen.reserved_seconds / 60:.1f} min of quota: "
        f"{on('free', 'a free account')}, {on('pro', 'PRO')}"
    )


def _estimate_lines(estimates: list[Any], *, chosen: str) -> list[str]:
    """The dry run's comparison: each backend's money, GPU time, quota and wall time."""
    lines = [f" {'backend':<10}{'money':>9}{'GPU min':>9}{'reserved':>10}{'per day':>14}  wall"]
    for e in estimates:
        per_day = (
            f"{e.clips_per_day['free']} free/{e.clips_per_day['pro']} PRO"
            if e.clips_per_day
            else "-"
        )
        reserved = f"{e.reserved_seconds / 60:.1f} min" if e.reserved_seconds else "-"
        mark = "*" if e.backend == chosen else " "
        lines.append(
            f"{mark}{e.backend:<10}{'$' + format(e.usd, '.2f'):>9}{e.gpu_seconds / 60:>9.1f}"
            f"{reserved:>10}{per_day:>14}  ~{e.wall_seconds / 60:.0f} min x{e.parallel}"
        )
    return lines


@app.command()
@reports_errors
def status(
    storyboard: OptionalStoryboard = None, workdir: WorkdirOpt = None, as_json: JsonOpt = False
) -> None:
    """Show every scene's state: done or not, attempts, times, clip, last error."""
    from rich.console import Console
    from rich.table import Table

    from .status import table as status_table
    from .workspace import open_workspace

    work = open_workspace(storyboard, workdir=workdir, decode_media=False)
    settings = load_settings()
    result = status_table(work.storyboard, work.workdir, bucketed=bool(settings.bucket))
    if as_json:
        _print_json(result.as_dict())
        return
    table = Table(title=f"{work.storyboard.title} ({work.workdir})")
    columns = (
        "#",
        "scene",
        "state",
        "tries",
        "gen s",
        "queue s",
        "video s",
        "clip",
        "bucket",
        "last error",
    )
    for column in columns:
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
        )
    out = Console(highlight=False)
    if not out.is_terminal:  # a log or a pipe: no reason to squeeze the table into 80 columns
        out.width = 200
    out.print(table)
    typer.echo(
        f"{result.ready}/{len(result.rows)} scenes ready; GPU time spent "
        f"{result.gpu_seconds / 60:.1f} min, queue waits {result.queue_seconds / 60:.1f} min"
        + (f", paid ${result.cost_usd:.2f}" if result.cost_usd else "")
    )
    for identity, until in result.retry_after.items():
        typer.echo(f"{identity}: quota exhausted until {until}")


@app.command()
@reports_errors
def stitch(
    storyboard: OptionalStoryboard = None,
    bucket: BucketOpt = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--output",
            help="Where to write the cut (default: <workdir>/final.mp4).",
            show_default=False,
        ),
    ] = None,
    captions: Annotated[
        str,
        typer.Option(
            help="'files' (.srt and .vtt beside the cut), 'burn' (also drawn in) or 'words' "
            "(word by word as spoken, in the files and drawn in)."
        ),
    ] = "files",
    frame: Annotated[
        str | None,
        typer.Option(help="The cut's frame, WxH in even numbers (default: the clips' own size)."),
    ] = None,
    fill: Annotated[
        str,
        typer.Option(help="How a clip of another shape fills the frame: blur, crop or pad."),
    ] = "blur",
    platform: Annotated[
        str | None,
        typer.Option(
            "--for",
            help="Deliver for shorts, reels or tiktok: 1080x1920, captions in its safe zone.",
        ),
    ] = None,
    loudnorm: Annotated[bool, typer.Option(help="Normalize loudness (two-pass EBU R128).")] = True,
    loudness: Annotated[
        float, typer.Option(help="Integrated loudness target in LUFS.", min=-40, max=-5)
    ] = -14.0,
    fade_ms: Annotated[
        int, typer.Option(help="Audio fade at every join, in ms (0: none).", min=0, max=500)
    ] = 20,
    crossfade: Annotated[
        float,
        typer.Option(help="Crossfade video and sound between clips, in seconds.", min=0, max=2),
    ] = 0.0,
    preview: Annotated[
        bool, typer.Option("--preview", help="A fast low-resolution proof cut (final-preview.mp4).")
    ] = False,
    workdir: WorkdirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Join every scene's clip into the final cut, with sound and picture in sync."""
    from . import stitch as stitching
    from .workspace import open_workspace

    if captions not in ("files", "burn", "words"):
        raise BadInputError(f"--captions {captions!r}: use 'files', 'burn' or 'words'")
    delivery = stitching.delivery(frame=frame, fill=fill, platform=platform)
    settings = load_settings({"bucket": bucket})
    # The cut reads clips and footage (probed for their trims), never the images.
    work = open_workspace(storyboard, workdir=workdir, decode_images=False)
    options = stitching.CutOptions(
        frame=delivery.frame,
        fill=delivery.fill,
        safe=delivery.safe,
        burn_captions=captions != "files",
        word_captions=captions == "words",
        loudnorm=loudnorm,
        loudness=loudness,
        fade_ms=fade_ms,
        crossfade=crossfade,
        preview=preview,
    )
    result = stitching.stitch(
        work.storyboard,
        workdir=work.workdir,
        output=output,
        ffmpeg=settings.ffmpeg,
        storage=_storage(settings, work.workdir.resolve().name),
        options=options,
    )
    if as_json:
        _print_json(result.as_dict())
    how = "video stream-copied" if result.video_copied else "video encoded once"
    if result.frame and delivery.frame:  # a delivery frame asked for: say which
        how = f"{result.frame[0]}x{result.frame[1]}, {how}"
    console = stderr_console()
    if result.fetched:
        console.print(
            f"fetched {counted(len(result.fetched), 'clip')} from the bucket", markup=False
        )
    made = result.made_loudness
    level = f", {made.input_i:g} LUFS, peaks {made.input_tp:g} dBTP" if made else ""
    console.print(
        f"final cut: {result.output} ({result.duration:.1f} s, "
        f"{counted(len(result.clips), 'clip')}, {how}{level})",
        markup=False,
    )
    if result.side_files:
        names = ", ".join(p.name for p in result.side_files)
        console.print(f"beside it: {names}", markup=False)
    if result.link:
        console.print(f"uploaded: {result.link}", markup=False)


@app.command()
@reports_errors
def push(
    storyboard: OptionalStoryboard = None,
    bucket: BucketOpt = None,
    create_bucket: CreateBucketOpt = False,
    workdir: WorkdirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Upload every clip, the final cut and its side files that the bucket does not have yet."""
    from . import stitch as stitching
    from .sync import push as push_all
    from .workspace import open_workspace

    settings = load_settings({"bucket": bucket})
    work = open_workspace(storyboard, workdir=workdir)
    storage = _storage(settings, work.workdir.resolve().name)
    if storage is None:
        raise ConfigError("no bucket configured: set F1GEN_BUCKET in .env or pass --bucket")
    storage.check(create=create_bucket)
    default_cut = stitching.outputs(work.workdir)
    extra = [default_cut.cut, *default_cut.side]
    result = push_all(work.storyboard, workdir=work.workdir, storage=storage, extra=extra)
    if as_json:
        _print_json(result.as_dict())
    stderr_console().print(
        f"{counted(len(result.sent), 'clip')} sent, {len(result.already)} already in "
        f"{storage.where}",
        markup=False,
    )
    for name, link in result.links.items():
        stderr_console().print(f"{name}: {link}", markup=False)


@app.command()
@reports_errors
def review(
    storyboard: OptionalStoryboard = None,
    open_page: Annotated[
        bool, typer.Option("--open", help="Open the page in your web browser.")
    ] = False,
    bucket: BucketOpt = None,
    workdir: WorkdirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check every take and write review.html: takes side by side, checks, picks, contact sheet."""
    from .review import publish_review, write_review
    from .workspace import open_workspace

    settings = load_settings({"bucket": bucket})
    work = open_workspace(storyboard, workdir=workdir, decode_media=False)
    result = write_review(work.storyboard, workdir=work.workdir)
    storage = _storage(settings, work.storyboard.stem)
    link = None
    if storage is not None:
        link = publish_review(result, workdir=work.workdir, storage=storage)
    if as_json:
        _print_json({"page": str(result.path), "link": link, **result.page.as_dict()})
    counts = result.page.counts()
    console = stderr_console()
    console.print(
        f"review: {result.path} ({counts['takes']} takes of {counts['scenes']} scenes; "
        f"checks: {counts['pass']} pass, {counts['warn']} warn, {counts['fail']} fail)",
        markup=False,
    )
    if link:
        console.print(f"uploaded: {link}", markup=False)
    if open_page:
        import webbrowser

        webbrowser.open(result.path.resolve().as_uri())


@app.command()
@reports_errors
def pick(
    scene: Annotated[str, typer.Argument(help="The scene's id or number.")],
    take: Annotated[
        str | None,
        typer.Argument(
            help="The take's number (1: the first made) or file name.", show_default=False
        ),
    ] = None,
    auto: Annotated[
        bool, typer.Option("--auto", help="Go back to the take the checks pick.")
    ] = False,
    storyboard: Annotated[
        Path | None, typer.Option(help="The storyboard (default: the work folder's).")
    ] = None,
    workdir: WorkdirOpt = None,
) -> None:
    """Pick the take a scene uses in the cut (the stitch, status, review and push follow it)."""
    from .errors import BadInputError
    from .picks import pick as pick_take
    from .workspace import open_workspace

    if (take is None) == (not auto):
        raise BadInputError("give a take to pick (f1gen pick SCENE TAKE) or --auto, not both")
    work = open_workspace(storyboard, workdir=workdir, decode_media=False)
    entry = pick_take(work.storyboard, workdir=work.workdir, scene_ref=scene, take=take)
    stderr_console().print(
        f"{entry.id}: {Path(entry.clip or '').name}: {entry.pick_reason}", markup=False
    )


def _storage(settings: Settings, prefix: str) -> Storage | None:
    if not settings.bucket:
        return None
    from .storage import from_settings  # boto3 loads only when a bucket is configured

    return from_settings(settings, prefix=prefix)


@app.command()
@reports_errors
def cron(
    storyboard: StoryboardArg,
    window: WindowOpt = None,
    tz: TzOpt = "UTC",
    every: Annotated[str, typer.Option(help="How often cron starts a run: 30m, 1h...")] = "30m",
    stitch_when_done: Annotated[
        bool, typer.Option("--stitch", help="Add --stitch: the cut is made when all is done.")
    ] = False,
    notify: Annotated[
        str | None, typer.Option(help="Add --notify URL to the entry.", show_default=False)
    ] = None,
    install: Annotated[
        bool, typer.Option("--install", help="Add the entry to your crontab (idempotent).")
    ] = False,
    workdir: WorkdirOpt = None,
) -> None:
    """Print a crontab entry for unattended off-peak runs; --install adds it."""
    from .cron import install as install_entry
    from .cron import make_entry
    from .notify import check_url
    from .schedule import Window, parse_zone
    from .workspace import open_workspace

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
    console = stderr_console()
    env_state = (
        "found" if entry.env_file.is_file() else "not found: put HF_TOKEN and the rest there"
    )
    console.print(f"reads {entry.env_file} ({env_state}); logs to {entry.log_file}", markup=False)
    if install:
        changed = install_entry(entry)
        console.print(
            "installed in your crontab" if changed else "already in your crontab", markup=False
        )


@app.command()
@reports_errors
def doctor(
    backend: Annotated[
        list[str] | None,
        typer.Option(
            help=f"A backend to check (repeat for several): {', '.join(BACKENDS)}; "
            f"default {BACKENDS[0]}.",
            show_default=False,
        ),
    ] = None,
    space: Annotated[
        str | None,
        typer.Option(help="Ovi Space id or URL (env OVI_SPACE).", show_default=False),
    ] = None,
    bucket: BucketOpt = None,
) -> None:
    """Check ffmpeg, each chosen backend (the Space: the token and every endpoint's API; hosted:
    the key; ovi-app: the app's API) and storage: one line each, nothing spent."""
    import tempfile

    from .backends import factory
    from .doctor import run_checks

    chosen = [factory(name) for name in dict.fromkeys(backend or [BACKENDS[0]])]
    settings = load_settings({"ovi_space": space, "bucket": bucket})
    with tempfile.TemporaryDirectory(prefix="f1gen-doctor-") as scratch:
        checks = run_checks(
            settings,
            scratch=Path(scratch),
            backends=chosen,
            storage=lambda: _storage(settings, ""),
        )
    for check in checks:
        typer.echo(f"{check.outcome:<4} {check.name}: {settings.redact(check.detail)}")
    if not all(check.ok for check in checks):
        raise typer.Exit(ExitCode.CONFIG)


def main() -> None:
    """Console-script entry point."""
    app()
