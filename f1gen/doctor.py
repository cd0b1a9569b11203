"""f1gen doctor: is everything a run needs in place? One check per line, nothing spent.

Each check runs on its own: one that fails, even unexpectedly, is a FAIL line with the fix, and
the checks after it still run (a Space that cannot be reached does not hide the bucket).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from . import media
from .errors import F1genError
from .settings import Settings

if TYPE_CHECKING:
    from .backends import Factory, Probe
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


def check_storage(storage: Storage | None) -> Check:
    """The bucket exists and these credentials may write to it (one object put and deleted)."""
    if storage is None:
        return Check("storage", "skip", "no bucket configured (F1GEN_BUCKET): clips stay local")
    storage.check()
    return Check(
        "storage", "ok", f"{storage.where} is reachable and writable with these credentials"
    )


def run_checks(
    settings: Settings,
    *,
    scratch: Path,
    backends: Sequence[Factory],
    storage: Callable[[], Storage | None],
) -> list[Check]:
    """Every check, in order, each on its own: ffmpeg, each backend's probes (the Space's:
    the token, then every endpoint), storage (made inside its check)."""
    checks = [_on_its_own("ffmpeg", lambda: check_ffmpeg(settings))]
    for made in backends:
        try:
            probes = made.checks(settings, scratch=scratch / made.name)
        except Exception as exc:  # nothing to probe, or a bug: its FAIL line, not a crash
            checks.append(_failed(made.name, exc))
            continue
        checks += [_on_its_own(probe.name, partial(_found, probe)) for probe in probes]
    checks.append(_on_its_own("storage", lambda: check_storage(storage())))
    return checks


def _found(probe: Probe) -> Check:
    return Check(probe.name, "ok", probe.run())


def _on_its_own(name: str, check: Callable[[], Check]) -> Check:
    """Run one check; whatever it raises becomes its FAIL line, never the end of doctor."""
    try:
        return check()
    except Exception as exc:
        return _failed(name, exc)


def _failed(name: str, exc: Exception) -> Check:
    """The FAIL line for what a check raised: its message, or an unexpected error to report."""
    if isinstance(exc, F1genError):
        return Check(name, "FAIL", exc.message)
    # A bug, but doctor is what users run when things are odd: one line, and the rest still run.
    detail = " ".join(f"{type(exc).__name__}: {exc}".split())
    return Check(name, "FAIL", f"unexpected error ({detail}): please report it")
