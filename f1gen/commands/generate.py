"""f1gen generate: build a GenerateRequest, hand it to the pipeline, render the plan or the run."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated

import typer

from ..errors import BadInputError
from ..words import counted
from .options import (
    DEFAULT_BACKEND,
    BackendOpt,
    BucketOpt,
    CreateBucketOpt,
    JsonOpt,
    ModelOpt,
    NotifyOpt,
    SpaceOpt,
    StitchOpt,
    StoryboardArg,
    TzOpt,
    WindowOpt,
    WorkdirOpt,
    print_json,
    say,
    stderr_console,
)

if TYPE_CHECKING:
    from pathlib import Path

    from ..estimate import Estimate
    from ..pipeline import Outcome, Preview
    from ..runner import RunOptions
    from ..schedule import Limits
    from ..settings import Settings
    from ..workspace import Workspace

OnlyOpt = Annotated[
    str | None,
    typer.Option(
        help="Scenes to make, by number, range or id: '3,5-7,pit-wall'.", show_default=False
    ),
]
ForceOpt = Annotated[
    bool,
    typer.Option(
        "--force", help="Make the chosen scenes again even if done; ignore a stored quota stop."
    ),
]
DryRunOpt = Annotated[
    bool,
    typer.Option("--dry-run", help="Show what would be made and the GPU estimate; make nothing."),
]
StepsOpt = Annotated[
    int | None,
    typer.Option(
        min=10,
        max=100,
        help="Ovi sample steps for scenes that set none; beats the storyboard's defaults "
        "(env OVI_SAMPLE_STEPS, default 40).",
        show_default=False,
    ),
]
AttemptsOpt = Annotated[
    int, typer.Option(min=1, max=20, help="Attempts per scene before it fails.")
]
TokenOpt = Annotated[
    str | None,
    typer.Option(help="Hugging Face token (env HF_TOKEN; prefer .env).", show_default=False),
]
TimeoutOpt = Annotated[
    int | None, typer.Option(help="Minutes before a clip's job is cancelled (default 15).", min=1)
]
MaxClipsOpt = Annotated[
    int | None, typer.Option(min=1, help="Stop (exit 75) after this many new clips.")
]
BudgetOpt = Annotated[
    float | None, typer.Option(min=0, help="Stop (exit 75) before passing this many GPU minutes.")
]
WaitOpt = Annotated[
    bool,
    typer.Option(
        "--wait", help="On a quota stop, sleep until the quota returns if that is in the window."
    ),
]
SeedOpt = Annotated[
    int | None,
    typer.Option(min=0, max=2**31 - 1, help="Seed for scenes that set none.", show_default=False),
]
ParallelOpt = Annotated[
    int | None,
    typer.Option(
        min=1,
        max=64,
        help="Clips in flight at once (default: the backend's, 8 for hosted).",
        show_default=False,
    ),
]
MaxCostOpt = Annotated[
    float | None,
    typer.Option(
        help="Refuse (exit 2) a run whose estimate passes this many USD; stop (exit 75) one "
        "that gets there.",
        show_default=False,
    ),
]
ResendOpt = Annotated[
    bool, typer.Option(help="Send again requests whose sending was cut off (fal: check first).")
]
TakesOpt = Annotated[
    int | None,
    typer.Option(
        min=1,
        max=10,
        help="Takes per scene for scenes that set none; beats the storyboard's defaults.",
        show_default=False,
    ),
]
ChecksOpt = Annotated[
    bool | None,
    typer.Option(
        "--checks/--no-checks",
        help="Check every take and regenerate one that fails a hard check (env F1GEN_CHECKS; "
        "default on where the backend's clips can be judged).",
        show_default=False,
    ),
]
VoiceCheckOpt = Annotated[
    str | None,
    typer.Option(
        "--voice-check",
        help="soft: a take in another voice than its character's is picked last; strict: it is "
        "made again with a new seed (within --attempts). Beats every character's voice_check.",
        show_default=False,
    ),
]


def generate(
    storyboard: StoryboardArg,
    backend: BackendOpt = DEFAULT_BACKEND,
    model: ModelOpt = None,
    only: OnlyOpt = None,
    force: ForceOpt = False,
    dry_run: DryRunOpt = False,
    sample_steps: StepsOpt = None,
    attempts: AttemptsOpt = 3,
    space: SpaceOpt = None,
    hf_token: TokenOpt = None,
    clip_timeout: TimeoutOpt = None,
    window: WindowOpt = None,
    tz: TzOpt = "UTC",
    max_clips: MaxClipsOpt = None,
    budget: BudgetOpt = None,
    wait: WaitOpt = False,
    stitch_when_done: StitchOpt = False,
    notify: NotifyOpt = None,
    bucket: BucketOpt = None,
    create_bucket: CreateBucketOpt = False,
    seed: SeedOpt = None,
    parallel: ParallelOpt = None,
    max_cost: MaxCostOpt = None,
    resend_unknown: ResendOpt = False,
    takes: TakesOpt = None,
    checks: ChecksOpt = None,
    voice_check: VoiceCheckOpt = None,
    workdir: WorkdirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Generate every scene's clip, resumably: in parallel lanes where it can, else in turn."""
    from .. import pipeline
    from ..notify import check_url
    from ..ui import RunView
    from ..workspace import open_workspace

    settings = _settings(backend, model, {
        "sample_steps": sample_steps, "ovi_space": space, "hf_token": hf_token,
        "clip_timeout_minutes": clip_timeout, "bucket": bucket,
        "resend_unknown": resend_unknown, "checks": checks})  # fmt: skip
    if notify is not None:
        check_url(notify)
    limits = _limits(window=window, tz=tz, max_clips=max_clips, budget=budget, wait=wait,
                     max_cost=max_cost)  # fmt: skip
    work = open_workspace(storyboard, workdir=workdir)
    say(*(f"warning: {warning}" for warning in work.warnings))
    options = _options(work, settings, only=only, force=force, attempts=attempts, seed=seed,
                       steps=sample_steps, takes=takes, create_bucket=create_bucket,
                       limits=limits, voice_check=voice_check)  # fmt: skip
    request = pipeline.GenerateRequest(work.storyboard, work.workdir, backend, options, settings,
                                       parallel=parallel, stitch_when_done=stitch_when_done,
                                       notify=notify)  # fmt: skip
    if dry_run:
        return _render_preview(pipeline.preview(request), as_json=as_json)
    with RunView(stderr_console()) as view:
        outcome = pipeline.run(request, view)
    _render_outcome(outcome, workdir=work.workdir, as_json=as_json)
    raise typer.Exit(outcome.exit_code)


def _settings(backend: str, model: str | None, options: dict[str, object]) -> Settings:
    """The settings, --model among them; a model the backend does not serve is exit 2, at once."""
    from ..backends import factory
    from ..config import load_settings

    if model is not None:
        factory(backend).model(model)
    return load_settings({**options, "ovi_model": model})


def _limits(
    *,
    window: str | None,
    tz: str,
    max_clips: int | None,
    budget: float | None,
    wait: bool,
    max_cost: float | None,
) -> Limits:
    """When the run may start clips and when it stops."""
    from ..schedule import Limits, Window, parse_zone

    if max_cost is not None and not (math.isfinite(max_cost) and max_cost >= 0):
        raise BadInputError(f"--max-cost {max_cost:g}: give US dollars, 0 or more, e.g. 5")
    return Limits(
        window=Window.parse(window, parse_zone(tz)) if window else None,
        max_clips=max_clips,
        budget_seconds=budget * 60 if budget is not None else None,
        wait=wait,
        max_cost=max_cost,
    )


def _options(
    work: Workspace,
    settings: Settings,
    *,
    only: str | None,
    force: bool,
    attempts: int,
    seed: int | None,
    steps: int | None,
    takes: int | None,
    create_bucket: bool,
    limits: Limits,
    voice_check: str | None = None,
) -> RunOptions:
    """How the run behaves, from the options and the settings."""
    from ..plan import parse_only
    from ..runner import RunOptions

    if voice_check not in (None, "soft", "strict"):
        raise BadInputError(f"--voice-check {voice_check!r}: use 'soft' or 'strict'")
    return RunOptions(
        only=parse_only(only, work.storyboard) if only is not None else None,
        force=force,
        max_attempts=attempts,
        default_steps=settings.sample_steps,
        default_seed=seed,
        steps=steps,
        takes=takes,
        checks=settings.checks,
        voice_check="strict" if voice_check == "strict" else "soft" if voice_check else None,
        create_bucket=create_bucket,
        limits=limits,
    )


def _render_preview(preview: Preview, *, as_json: bool) -> None:
    """What a run would make and what it would cost; no quota figures for the offline animatic."""
    from ..estimate import estimate_seconds

    if as_json:
        print_json(preview.as_dict())
        _refuse(preview)
        return
    mine = preview.chosen
    for planned in preview.todo:
        each = estimate_seconds(planned.steps) * preview.scale
        cost = f", ~{each:.0f} s GPU" if preview.estimates else ""
        if planned.takes > 1:
            cost += f", {planned.takes} takes"
        typer.echo(
            f"would generate {planned.scene.number:02d} {planned.scene.id} "
            f"({planned.steps} steps{cost})"
        )
    done = f"{len(preview.todo)} to generate, {preview.ready}/{preview.total} scenes ready"
    if mine is None:
        typer.echo(f"{done}; rendered here: no GPU quota is spent")
        return
    typer.echo(f"{done}; about {mine.gpu_seconds / 60:.1f} GPU minutes{_quota_words(mine)}")
    for line in _estimate_lines(preview.estimates, chosen=preview.backend):
        typer.echo(line)
    if preview.max_cost is not None and preview.refused is None:
        typer.echo(
            f"fits the --max-cost of ${preview.max_cost:.2f} "
            f"(estimated ${preview.estimated_usd:.2f})"
        )
    _refuse(preview)


def _refuse(preview: Preview) -> None:
    """A dry run exits as the run would: 2 when --max-cost refuses it."""
    if preview.refused is not None:
        raise BadInputError(preview.refused)


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


def _estimate_lines(estimates: tuple[Estimate, ...], *, chosen: str) -> list[str]:
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


def _render_outcome(outcome: Outcome, *, workdir: Path, as_json: bool) -> None:
    """What the run did, and what to do next."""
    summary = outcome.summary
    if as_json:
        print_json(outcome.as_dict())
    say(
        f"scenes done {len(summary.done)}, ready {outcome.ready}/{outcome.total}, failed "
        f"{len(summary.failed)}; clips made {summary.clips}, takes rejected {summary.rejected}; "
        f"{summary.seconds:.1f} s; state: {workdir / 'state.json'}"
    )
    if summary.local_only:
        say(
            f"{counted(len(summary.local_only), 'clip')} only local (storage was unavailable): "
            "run 'f1gen push' when it is back"
        )
    elif summary.uploaded:
        say(f"{counted(len(summary.uploaded), 'clip')} in the bucket")
    if outcome.cut is not None:
        say(f"final cut: {outcome.cut.output}")
    if summary.failed:
        say(f"failed: {', '.join(summary.failed)}: see 'f1gen status', then re-run to retry")
    if summary.short:
        say(
            f"short of takes (done, with fewer good takes than asked for): "
            f"{', '.join(summary.short)}: see 'f1gen status'; re-run to try the missing ones"
        )
    if summary.stopped:
        say(f"stopped: {summary.stopped}")
