"""f1gen voice: set a character's reference voice from one of its takes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .options import WorkdirOpt, say

CharacterArg = Annotated[str, typer.Argument(help="The character's id.")]
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
    character: CharacterArg,
    source: FromOpt,
    storyboard: VoiceStoryboardOpt = None,
    workdir: WorkdirOpt = None,
) -> None:
    """Set a character's reference voice from one of its takes; its scenes are picked again."""
    from ..casting import set_reference
    from ..workspace import open_workspace

    work = open_workspace(storyboard, workdir=workdir, decode_media=False)
    reference = set_reference(
        work.storyboard, workdir=work.workdir, character_id=character, source=source
    )
    say(f"{character}: the reference voice is now {reference.shown}")
