"""The door to Gradio apps (gradio_client) for backends that drive a Gradio API: connect with
telemetry off, read the API, submit and follow a job, classify what goes wrong.

ovi_space.py still imports gradio_client itself (it is being edited for issue 11); moving it
onto this module makes this the only importer of gradio_client again (issue 13).
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import wait
from pathlib import Path
from typing import Any

import httpx
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError, AuthenticationError
from gradio_client.utils import QueueError, Status, TooManyRequestsError

from ..errors import GenerationError
from . import BackendUpdate, Report
from .traits import Verdict

__all__ = ["Client", "api", "classify", "connect", "describe", "follow", "handle_file", "take"]
WORKING = {Status.PROCESSING, Status.ITERATING, Status.PROGRESS, Status.LOG}


def connect(src: str, *, token: str | None, download_dir: Path) -> Client:
    """A client for the app at src; its files land in download_dir; no telemetry."""
    download_dir.mkdir(parents=True, exist_ok=True)
    # gradio_client 2.x reports the app's address to Hugging Face unless the environment says no.
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    return Client(
        src,
        token=token,
        verbose=False,
        download_files=str(download_dir),
        analytics_enabled=False,
        httpx_kwargs={"timeout": httpx.Timeout(60.0, connect=15.0)},
    )


def api(client: Client) -> dict[str, dict[str, dict[str, Any]]]:
    """The app's named endpoints and, for each, its parameters by name."""
    info = client.view_api(print_info=False, return_format="dict")
    endpoints = (info or {}).get("named_endpoints", {}) if isinstance(info, dict) else {}
    return {
        str(name): {str(p.get("parameter_name")): p for p in spec.get("parameters", [])}
        for name, spec in endpoints.items()
    }


def classify(exc: BaseException) -> Verdict | None:
    """What an exception from gradio_client means (None: one f1gen never expects)."""
    if isinstance(exc, AppError):  # before ValueError: AppError subclasses it in 2.x
        lowered = f"{exc.title or ''} {exc.message or ''}".lower()
        if "quota" in lowered:
            return Verdict.QUOTA
        if "no gpu was available" in lowered or "queue timeout" in lowered:
            return Verdict.BUSY
        return Verdict.FAILED_RUN
    if isinstance(exc, AuthenticationError):
        return Verdict.FATAL
    if isinstance(exc, QueueError | TooManyRequestsError | httpx.TransportError | ConnectionError):
        return Verdict.BUSY
    if isinstance(exc, TimeoutError):
        return Verdict.BUSY
    if isinstance(exc, ValueError | TypeError):
        return Verdict.FATAL
    return None


def describe(exc: BaseException) -> str:
    """One line for an exception from gradio_client."""
    if isinstance(exc, AppError):
        title = f"{exc.title}: " if exc.title else ""
        return " ".join(f"{title}{exc.message or exc}".split())
    return " ".join(f"{type(exc).__name__}: {exc}".split())


def follow(
    job: Any,
    *,
    report: Report,
    limit: float,
    interrupted: threading.Event,
    poll_seconds: float = 0.5,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[Any, float]:
    """Wait for a job, reporting queue and progress; cancel it past limit or when interrupted.

    Returns the job's result and the seconds it spent queued.
    """
    started = clock()
    processing_at: float | None = None
    last = ""
    try:
        while not job.done():
            if interrupted.is_set():
                raise GenerationError("interrupted: the job was cancelled")
            if clock() - started > limit:
                raise GenerationError(f"no clip after {limit / 60:g} min: the job was cancelled")
            status = job.status()
            if processing_at is None and status.code in WORKING:
                processing_at = clock()
            update = _update(status)
            if update is not None and update.message != last:
                report(update)
                last = update.message
            wait([job.future], timeout=poll_seconds)  # wakes as soon as it is done
    except BaseException:
        job.cancel()
        raise
    return job.result(), (processing_at or clock()) - started


def take(result: Any, dest: Path, *, download_dir: Path, what: str) -> None:
    """Move a downloaded video result to dest; None or no file is a failed run."""
    if isinstance(result, dict):
        result = result.get("video")
    if isinstance(result, list | tuple) and result:
        result = result[0]
    if not isinstance(result, str | Path) or not result:
        raise GenerationError(f"{what} returned no clip (the app swallowed an error: see its log)")
    source = Path(result).resolve()
    if not source.is_file():
        raise GenerationError(f"{what}'s clip was not downloaded ({source.name})")
    shutil.move(str(source), dest)
    folder = source.parent
    if folder != download_dir.resolve() and download_dir.resolve() in folder.parents:
        shutil.rmtree(folder, ignore_errors=True)


def _update(status: Any) -> BackendUpdate | None:
    code = status.code
    if code == Status.IN_QUEUE:
        rank = status.rank
        where = f"queue {rank + 1}/{status.queue_size}" if rank is not None else "queued"
        return BackendUpdate(where)
    if code == Status.PROGRESS and status.progress_data:
        unit = status.progress_data[0]
        if unit.index is not None and unit.length:
            label = unit.desc or unit.unit or "steps"
            return BackendUpdate(f"{label} {unit.index}/{unit.length}", unit.index / unit.length)
    if code in WORKING:
        return BackendUpdate("generating")
    return None
