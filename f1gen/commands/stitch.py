"""f1gen stitch: the final cut from every scene's clip."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..errors import BadInputError
from ..words import counted
from .options import BucketOpt, JsonOpt, OptionalStoryboard, WorkdirOpt, print_json, say

if TYPE_CHECKING:
    from ..stitch import StitchResult

OutputOpt = Annotated[
    Path | None,
    typer.Option(
        "-o",
        "--output",
        help="Where to write the cut (default: <workdir>/final.mp4).",
        show_default=False,
    ),
]
CaptionsOpt = Annotated[
    str,
    typer.Option(
        help="'files' (.srt and .vtt beside the cut), 'burn' (also drawn in) or 'words' "
        "(word by word as spoken, in the files and drawn in)."
    ),
]
FrameOpt = Annotated[
    str | None,
    typer.Option(help="The cut's frame, WxH in even numbers (default: the clips' own size)."),
]
FillOpt = Annotated[
    str, typer.Option(help="How a clip of another shape fills the frame: blur, crop or pad.")
]
ForOpt = Annotated[
    str | None,
    typer.Option(
        "--for", help="Deliver for shorts, reels or tiktok: 1080x1920, captions in its safe zone."
    ),
]
LoudnormOpt = Annotated[bool, typer.Option(help="Normalize loudness (two-pass EBU R128).")]
LoudnessOpt = Annotated[
    float, typer.Option(help="Integrated loudness target in LUFS.", min=-40, max=-5)
]
FadeOpt = Annotated[
    int, typer.Option(help="Audio fade at every join, in ms (0: none).", min=0, max=500)
]
CrossfadeOpt = Annotated[
    float, typer.Option(help="Crossfade video and sound between clips, in seconds.", min=0, max=2)
]
PreviewOpt = Annotated[
    bool, typer.Option("--preview", help="A fast low-resolution proof cut (final-preview.mp4).")
]
SeamsOpt = Annotated[
    bool, typer.Option(help="Smooth joins and one room tone (--no-seams: the plain join).")
]
MusicOpt = Annotated[bool, typer.Option(help="Lay the storyboard's music: under the cut.")]
AmbienceOpt = Annotated[bool, typer.Option(help="Lay the storyboard's ambience: beds under it.")]


def stitch(
    storyboard: OptionalStoryboard = None,
    bucket: BucketOpt = None,
    output: OutputOpt = None,
    captions: CaptionsOpt = "files",
    frame: FrameOpt = None,
    fill: FillOpt = "blur",
    platform: ForOpt = None,
    loudnorm: LoudnormOpt = True,
    loudness: LoudnessOpt = -14.0,
    fade_ms: FadeOpt = 20,
    crossfade: CrossfadeOpt = 0.0,
    preview: PreviewOpt = False,
    seams: SeamsOpt = True,
    music: MusicOpt = True,
    ambience: AmbienceOpt = True,
    workdir: WorkdirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Join every scene's clip into the final cut, with sound and picture in sync."""
    from .. import stitch as stitching
    from ..config import load_settings
    from ..workspace import open_storage, open_workspace

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
        seams=seams,
        music=music,
        ambience=ambience,
    )
    result = stitching.stitch(
        work.storyboard,
        workdir=work.workdir,
        output=output,
        ffmpeg=settings.ffmpeg,
        storage=open_storage(settings, prefix=work.workdir.resolve().name),
        options=options,
    )
    if as_json:
        print_json(result.as_dict())
    _render(result, framed=delivery.frame is not None)


def _render(result: StitchResult, *, framed: bool = False) -> None:
    """What the cut is, and where its side files and link are (framed: its frame size too, when
    a delivery frame was asked for)."""
    how = "video stream-copied" if result.video_copied else "video encoded once"
    if framed and result.frame:
        how = f"{result.frame[0]}x{result.frame[1]}, {how}"
    if result.fetched:
        say(f"fetched {counted(len(result.fetched), 'clip')} from the bucket")
    for note in result.notes:
        say(note)
    made = result.made_loudness
    level = f", {made.input_i:g} LUFS, peaks {made.input_tp:g} dBTP" if made else ""
    say(
        f"final cut: {result.output} ({result.duration:.1f} s, "
        f"{counted(len(result.clips), 'clip')}, {how}{level})"
    )
    if result.side_files:
        say(f"beside it: {', '.join(p.name for p in result.side_files)}")
    if result.link:
        say(f"uploaded: {result.link}")
