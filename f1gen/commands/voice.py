"""f1gen voice: set a character's reference voice from one of its takes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .options import WorkdirOpt, say

VOICE_USAGE = "f1gen voice [STORYBOARD] CHARACTER --from SCENE[:TAKE]"
FirstArg = Annotated[
    str,
    typer.Argument(
        metavar="[STORYBOARD] CHARACTER",
        help="The storyboard YAML (default: the work folder's), then the character's id.",
        show_default=False,
    ),
]
CharacterArg = Annotated[str | None, typer.Argument(hidden=True, metavar="", show_default=False)]
FromOpt = Annotated[
    str,
    typer.Option(
        "--from",
        help="SCENE or SCENE:TAKE (a number or file name; the scene's pick when none): the take "
        "whose voice the character's other takes are compared with.",
    ),
]
VoiceStoryboardOpt = Annotated[
    Path | None, typer.Option(help="The storyboard (default: the work folder's).")
]


def voice(
    first: FirstArg,
    source: FromOpt,
    second: CharacterArg = None,
    storyboard: VoiceStoryboardOpt = None,
    workdir: WorkdirOpt = None,
) -> None:
    """Set a character's reference voice from one of its takes; its scenes are picked again."""
    from ..casting import set_reference
    from ..errors import BadInputError
    from ..workspace import open_workspace

    character = first
    if second is not None:  # [STORYBOARD] CHARACTER, like every other command
        if storyboard is not None:
            raise BadInputError(
                f"give the storyboard once, first or with --storyboard: {VOICE_USAGE}"
            )
        storyboard, character = Path(first), second
    work = open_workspace(storyboard, workdir=workdir, decode_media=False)
    reference = set_reference(
        work.storyboard, workdir=work.workdir, character_id=character, source=source
    )
    say(f"{character}: the reference voice is now {reference.shown}")
