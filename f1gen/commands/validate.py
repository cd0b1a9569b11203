"""f1gen validate and f1gen prompts: the storyboard checked, and what each scene is sent as."""

from __future__ import annotations

from typing import Annotated

import typer

from ..errors import BadInputError, StoryboardError
from ..words import counted
from .options import DEFAULT_BACKEND, NAMES, JsonOpt, StoryboardArg, print_json, say

PromptBackendOpt = Annotated[str, typer.Option(help=f"Whose prompt format: {NAMES}.")]


def validate(storyboard: StoryboardArg, as_json: JsonOpt = False) -> None:
    """Check a storyboard before anything is spent: schema, ids, images, footage, lint."""
    from .. import storyboard as storyboards

    try:
        loaded = storyboards.load(storyboard)
    except BadInputError as exc:
        if as_json:
            problems = exc.problems if isinstance(exc, StoryboardError) else [exc.message]
            print_json({"storyboard": str(storyboard), "ok": False, "problems": problems})
        raise
    say(*(f"warning: {warning}" for warning in loaded.warnings))
    board = loaded.storyboard
    if as_json:
        print_json(
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
        say(
            f"{storyboard}: {counted(len(board.scenes), 'scene')}, "
            f"{counted(len(loaded.warnings), 'warning')}: ok"
        )


def prompts(
    storyboard: StoryboardArg,
    backend: PromptBackendOpt = DEFAULT_BACKEND,
    as_json: JsonOpt = False,
) -> None:
    """Print the prompt every generated scene is sent with (Ovi's format on every backend today)."""
    from .. import storyboard as storyboards
    from ..backends import factory

    builder = factory(backend).prompt
    board = storyboards.load(storyboard).storyboard
    rows = [(s.number, s.id, builder.build(s)) for s in board.scenes if s.generated]
    if as_json:
        print_json([{"number": n, "id": i, "prompt": p} for n, i, p in rows])
        return
    for number, scene_id, prompt in rows:
        typer.echo(f"{number:02d} {scene_id}: {prompt}")
