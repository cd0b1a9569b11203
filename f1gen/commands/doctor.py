"""f1gen doctor: ffmpeg, each chosen backend and storage checked, nothing spent."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import ExitCode
from .options import DEFAULT_BACKEND, NAMES, BucketOpt, SpaceOpt

DoctorBackendOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--backend",
        metavar="NAME",
        help=f"A backend to check (repeat for several): {NAMES}; default {DEFAULT_BACKEND}.",
        show_default=False,
    ),
]


def doctor(
    backend: DoctorBackendOpt = None, space: SpaceOpt = None, bucket: BucketOpt = None
) -> None:
    """Check ffmpeg, each chosen backend (the Space: the token and every endpoint's API; hosted:
    the key; ovi-app: the app's API) and storage: one line each, nothing spent."""
    import tempfile

    from ..backends import factory
    from ..config import load_settings
    from ..doctor import run_checks
    from ..workspace import open_storage

    chosen = [factory(name) for name in dict.fromkeys(backend or [DEFAULT_BACKEND])]
    settings = load_settings({"ovi_space": space, "bucket": bucket})
    with tempfile.TemporaryDirectory(prefix="f1gen-doctor-") as scratch:
        checks = run_checks(
            settings,
            scratch=Path(scratch),
            backends=chosen,
            storage=lambda: open_storage(settings, prefix=""),
        )
    for check in checks:
        typer.echo(f"{check.outcome:<4} {check.name}: {settings.redact(check.detail)}")
    if not all(check.ok for check in checks):
        raise typer.Exit(ExitCode.CONFIG)
