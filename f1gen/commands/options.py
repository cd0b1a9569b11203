"""What every command shares: the option aliases, the chatter console and the JSON printer.

Heavy modules (pydantic, PIL, PyAV, gradio_client, boto3) load inside the commands that use
them, so that `f1gen --help` and a cron run outside its window start fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..backends import DEFAULT, REGISTRY

if TYPE_CHECKING:
    from rich.console import Console

NAMES = ", ".join(REGISTRY)  # the registry's backends, the default first

StoryboardArg = Annotated[
    Path, typer.Argument(metavar="STORYBOARD", help="The storyboard YAML file.", show_default=False)
]
OptionalStoryboard = Annotated[
    Path | None,
    typer.Argument(
        metavar="STORYBOARD",
        help="The storyboard YAML; default: the only run under out/.",
        show_default=False,
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
BackendOpt = Annotated[str, typer.Option(help=f"Who makes the clips: {NAMES}.")]
ModelOpt = Annotated[
    str | None,
    typer.Option(
        help="The model the backend serves (ovi-app: 720x720_5s, 960x960_5s or 960x960_10s; "
        "env OVI_MODEL; default 720x720_5s).",
        show_default=False,
    ),
]
SpaceOpt = Annotated[
    str | None, typer.Option(help="Ovi Space id or URL (env OVI_SPACE).", show_default=False)
]
NotifyOpt = Annotated[
    str | None,
    typer.Option(
        help="POST the run's summary as JSON to this URL when it ends.", show_default=False
    ),
]
StitchOpt = Annotated[
    bool, typer.Option("--stitch", help="Stitch (and upload) the cut once every scene is done.")
]
DEFAULT_BACKEND = DEFAULT


def stderr_console() -> Console:
    """The console for chatter; data goes to stdout."""
    from ..ui import stderr_console as make

    return make()


def say(*lines: str) -> None:
    """Chatter lines on stderr, printed as they are (no rich markup)."""
    console = stderr_console()
    for line in lines:
        console.print(line, markup=False)


def print_json(data: Any) -> None:
    """Data on stdout, as indented JSON."""
    sys.stdout.write(json.dumps(data, indent=2) + "\n")
