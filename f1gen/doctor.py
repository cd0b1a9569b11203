"""f1gen doctor: is everything a run needs in place? One check per line, nothing spent."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from . import media
from .config import Settings
from .errors import F1genError, SpaceBusy

if TYPE_CHECKING:
    from .storage import Storage


@dataclass(frozen=True)
class Check:
    """One finding: what was checked, whether it passed, and the detail or the fix."""

    name: str
    ok: bool
    detail: str


def check_ffmpeg(settings: Settings) -> Check:
    """ffmpeg can be found and runs."""
    try:
        return Check(
            "ffmpeg",
            True,
            f"{media.find_ffmpeg(settings.ffmpeg)} ({media.ffmpeg_version(settings.ffmpeg)})",
        )
    except F1genError as exc:
        return Check("ffmpeg", False, exc.message)


def check_token(settings: Settings) -> Check:
    """Whether a Hugging Face token is configured (never showing any of it)."""
    if settings.hf_token:
        return Check("token", True, "HF_TOKEN is set")
    return Check(
        "token", True, "HF_TOKEN is not set: the anonymous ZeroGPU quota is about 2 minutes a day"
    )


def check_space(settings: Settings, scratch: Path) -> Check:
    """The Space answers and its /generate_scene takes what f1gen sends."""
    from .backends.ovi_space import ENDPOINT, OviSpaceBackend, RetryPolicy

    backend = OviSpaceBackend(
        settings=settings, download_dir=scratch, retry=RetryPolicy(attempts=1, initial=0)
    )
    try:
        backend.prepare(lambda update: None)
        sent = ", ".join(backend.sends)
        return Check("space", True, f"{settings.ovi_space}: {ENDPOINT} takes {sent}")
    except SpaceBusy as exc:
        return Check("space", False, f"{settings.ovi_space} is busy or unreachable: {exc.last}")
    except F1genError as exc:
        return Check("space", False, exc.message)
    finally:
        backend.close()


def check_storage(storage: Storage | None) -> Check:
    """The bucket exists and the credentials reach it."""
    if storage is None:
        return Check("storage", True, "no bucket configured (F1GEN_BUCKET): clips stay local")
    try:
        storage.check()
    except F1genError as exc:
        return Check("storage", False, exc.message)
    return Check("storage", True, f"{storage.where} is reachable with these credentials")


def run_checks(settings: Settings, *, scratch: Path, storage: Storage | None) -> list[Check]:
    """Every check, in order."""
    return [
        check_ffmpeg(settings),
        check_token(settings),
        check_space(settings, scratch),
        check_storage(storage),
    ]
