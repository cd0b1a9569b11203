"""f1gen validate and f1gen prompts: the storyboard checked, and what each scene is sent as."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ..errors import BadInputError, StoryboardError
from ..words import counted
from .options import DEFAULT_BACKEND, NAMES, JsonOpt, ModelOpt, StoryboardArg, print_json, say

if TYPE_CHECKING:
    from ..scene import Storyboard

PromptBackendOpt = Annotated[str, typer.Option(help=f"Whose prompt format: {NAMES}.")]
CheckBackendOpt = Annotated[
    str | None,
    typer.Option(
        help="Also check every scene's duration against this backend's model.", show_default=False
    ),
]


def validate(
    storyboard: StoryboardArg,
    backend: CheckBackendOpt = None,
    model: ModelOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check a storyboard before anything is spent: schema, ids, images, footage, lint."""
    from .. import storyboard as storyboards

    try:
        loaded = storyboards.load(storyboard)
        if backend is not None:
            _refuse_durations(loaded.storyboard, backend, model)
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


def _refuse_durations(board: Storyboard, backend: str, model: str | None) -> None:
    """StoryboardError when a scene asks for a clip length backend's model does not make."""
    from ..backends import factory
    from ..config import load_settings
    from ..plan import refuse_durations

    made = factory(backend)
    chosen = made.chosen(model, load_settings())
    refuse_durations(board, board.scenes, made.identity("", chosen))


def prompts(
    storyboard: StoryboardArg,
    backend: PromptBackendOpt = DEFAULT_BACKEND,
    model: ModelOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Print the prompt every generated scene is sent with, in the format of the backend's model."""
    from .. import storyboard as storyboards
    from ..backends import factory
    from ..config import load_settings

    builder = factory(backend).chosen(model, load_settings()).prompt
    board = storyboards.load(storyboard).storyboard
    rows = [(s.number, s.id, builder.build(s)) for s in board.scenes if s.generated]
    if as_json:
        print_json([{"number": n, "id": i, "prompt": p} for n, i, p in rows])
        return
    for number, scene_id, prompt in rows:
        typer.echo(f"{number:02d} {scene_id}: {prompt}")
