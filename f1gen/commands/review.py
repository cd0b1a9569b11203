"""f1gen review and f1gen pick: every take checked on one page, and the take a scene uses."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import BadInputError
from .options import BucketOpt, JsonOpt, OptionalStoryboard, WorkdirOpt, print_json, say

OpenOpt = Annotated[bool, typer.Option("--open", help="Open the page in your web browser.")]
PICK_USAGE = "f1gen pick [STORYBOARD] SCENE [TAKE]"
FirstArg = Annotated[
    str,
    typer.Argument(
        metavar="[STORYBOARD] SCENE",
        help="The storyboard YAML (default: the only run under out/), then the scene's id or "
        "number.",
        show_default=False,
    ),
]
TakeArg = Annotated[
    str | None,
    typer.Argument(
        metavar="TAKE",
        help="The take's number (1: the first made) or file name.",
        show_default=False,
    ),
]
ThirdArg = Annotated[str | None, typer.Argument(hidden=True, metavar="", show_default=False)]
AutoOpt = Annotated[bool, typer.Option("--auto", help="Go back to the take the checks pick.")]
PickStoryboardOpt = Annotated[Path | None, typer.Option("--storyboard", hidden=True)]


def review(
    storyboard: OptionalStoryboard = None,
    open_page: OpenOpt = False,
    bucket: BucketOpt = None,
    workdir: WorkdirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check every take and write review.html: takes side by side, checks, picks, contact sheet."""
    from ..config import load_settings
    from ..review import publish_review, write_review
    from ..workspace import open_storage, open_workspace

    settings = load_settings({"bucket": bucket})
    work = open_workspace(storyboard, workdir=workdir, decode_media=False)
    result = write_review(work.storyboard, workdir=work.workdir)
    storage = open_storage(settings, prefix=work.storyboard.stem)
    link = None
    if storage is not None:
        link = publish_review(result, workdir=work.workdir, storage=storage)
    if as_json:
        print_json({"page": str(result.path), "link": link, **result.page.as_dict()})
    counts = result.page.counts()
    say(
        f"review: {result.path} ({counts['takes']} takes of {counts['scenes']} scenes; "
        f"checks: {counts['pass']} pass, {counts['warn']} warn, {counts['fail']} fail)"
    )
    if link:
        say(f"uploaded: {link}")
    if open_page:
        import webbrowser

        webbrowser.open(result.path.resolve().as_uri())


def pick(
    first: FirstArg,
    second: TakeArg = None,
    third: ThirdArg = None,
    auto: AutoOpt = False,
    workdir: WorkdirOpt = None,
    storyboard: PickStoryboardOpt = None,
) -> None:
    """Pick the take a scene uses in the cut (the stitch, status, review and push follow it)."""
    from ..picks import pick as pick_take
    from ..workspace import open_workspace

    words = [w for w in (first, second, third) if w is not None]
    board, scene, take = pick_arguments(words, storyboard=storyboard)
    if take is None and not auto:
        raise BadInputError(f"give the take to pick for {scene!r} ({PICK_USAGE}) or --auto")
    if take is not None and auto:
        raise BadInputError(f"give a take ({take!r}) or --auto, not both")
    work = open_workspace(board, workdir=workdir, decode_media=False)
    entry = pick_take(work.storyboard, workdir=work.workdir, scene_ref=scene, take=take)
    say(f"{entry.id}: {Path(entry.clip or '').name}: {entry.pick_reason}")


def pick_arguments(
    words: list[str], *, storyboard: Path | None
) -> tuple[Path | None, str, str | None]:
    """[STORYBOARD] SCENE [TAKE]: a first word that is a path (it has a '.' or a '/'; a scene's
    id and number have neither) is the storyboard."""
    rest = list(words)
    if storyboard is None and rest and ("." in rest[0] or "/" in rest[0]):
        storyboard = Path(rest.pop(0))
    if not rest:
        raise BadInputError(f"name the scene to pick: {PICK_USAGE}")
    if len(rest) > 2:
        raise BadInputError(f"too many arguments ({' '.join(rest[2:])}): {PICK_USAGE}")
    return storyboard, rest[0], rest[1] if len(rest) == 2 else None
