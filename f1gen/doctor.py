"""f1gen doctor: is everything a run needs in place? One check per line, nothing spent.

Each check runs on its own: one that fails, even unexpectedly, is a FAIL line with the fix, and
the checks after it still run (a Space that cannot be reached does not hide the bucket).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from . import media
from .config import Settings
from .errors import BackendBusy, F1genError

if TYPE_CHECKING:
    from .storage import Storage


Outcome = Literal["ok", "FAIL", "skip"]


@dataclass(frozen=True)
class Check:
    """One finding: what was checked, how it went (ok, FAIL, skip), and the detail or the fix."""

    name: str
    outcome: Outcome
    detail: str

    @property
    def ok(self) -> bool:
        """True unless the check failed (a skipped check is not a failure)."""
        return self.outcome != "FAIL"


def check_ffmpeg(settings: Settings) -> Check:
    """ffmpeg can be found and runs."""
    found = media.find_ffmpeg(settings.ffmpeg)
    return Check("ffmpeg", "ok", f"{found} ({media.ffmpeg_version(settings.ffmpeg)})")


def check_token(settings: Settings) -> Check:
    """Whether a Hugging Face token is configured (never showing any of it)."""
    if settings.hf_token:
        return Check("token", "ok", "HF_TOKEN is set")
    return Check(
        "token", "ok", "HF_TOKEN is not set: the anonymous ZeroGPU quota is about 2 minutes a day"
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
        return Check("space", "ok", f"{settings.ovi_space}: {ENDPOINT} takes {sent}")
    except BackendBusy as exc:
        return Check("space", "FAIL", f"{settings.ovi_space} is busy or unreachable: {exc.last}")
    finally:
        backend.close()


def check_storage(storage: Storage | None) -> Check:
    """The bucket exists and these credentials may write to it (one object put and deleted)."""
    if storage is None:
        return Check("storage", "skip", "no bucket configured (F1GEN_BUCKET): clips stay local")
    storage.check()
    return Check(
        "storage", "ok", f"{storage.where} is reachable and writable with these credentials"
    )


def run_checks(
    settings: Settings, *, scratch: Path, storage: Callable[[], Storage | None]
) -> list[Check]:
    """Every check, in order, each on its own (storage is made inside its check)."""
    checks: list[tuple[str, Callable[[], Check]]] = [
        ("ffmpeg", lambda: check_ffmpeg(settings)),
        ("token", lambda: check_token(settings)),
        ("space", lambda: check_space(settings, scratch)),
        ("storage", lambda: check_storage(storage())),
    ]
    return [_on_its_own(name, check) for name, check in checks]


def _on_its_own(name: str, check: Callable[[], Check]) -> Check:
    """Run one check; whatever it raises becomes its FAIL line, never the end of doctor."""
    try:
        return check()
    except F1genError as exc:
        return Check(name, "FAIL", exc.message)
    except Exception as exc:  # a bug, but doctor is what users run when things are odd
        detail = " ".join(f"{type(exc).__name__}: {exc}".split())
        return Check(name, "FAIL", f"unexpected error ({detail}): please report it")
