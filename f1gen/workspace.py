"""Finding a run: a storyboard, its work folder and its bucket, from whatever the user named."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from . import storyboard as storyboards
from .errors import BadInputError
from .scene import Storyboard
from .state import StateStore

if TYPE_CHECKING:
    from .settings import Settings
    from .storage import Storage

OUT = Path("out")


@dataclass(frozen=True)
class Workspace:
    """A loaded storyboard, its lint warnings and its work folder."""

    storyboard: Storyboard
    workdir: Path
    warnings: tuple[str, ...] = ()


def open_workspace(
    storyboard: Path | None,
    *,
    workdir: Path | None = None,
    decode_media: bool = True,
    decode_images: bool | None = None,
) -> Workspace:
    """The storyboard given, or the one recorded in the work folder, or the only run under out/
    (decode_media, decode_images: see storyboard.load)."""
    if storyboard is not None:
        loaded = storyboards.load(
            storyboard, decode_media=decode_media, decode_images=decode_images
        )
        folder = workdir or OUT / loaded.storyboard.stem
        return Workspace(loaded.storyboard, folder, loaded.warnings)
    folder = workdir or _only_run()
    recorded = StateStore(folder).read().storyboard
    loaded = storyboards.load(
        Path(recorded), decode_media=decode_media, decode_images=decode_images
    )
    return Workspace(loaded.storyboard, folder, loaded.warnings)


def _only_run() -> Path:
    runs = sorted(p.parent for p in OUT.glob("*/state.json"))
    if not runs:
        raise BadInputError(
            f"no runs under {OUT}/ yet: start one with 'f1gen generate STORYBOARD' "
            "(or give the storyboard)"
        )
    if len(runs) > 1:
        names = ", ".join(str(r) for r in runs)
        raise BadInputError(f"several runs under {OUT}/ ({names}): give the storyboard to pick one")
    return runs[0]


def open_storage(settings: Settings, *, prefix: str) -> Storage | None:
    """The run's bucket under prefix, or None when none is configured (boto3 loads only then)."""
    if not settings.bucket:
        return None
    from .storage import from_settings

    return from_settings(settings, prefix=prefix)
