"""The door to Gradio apps: the only module that imports gradio_client.

Backends that drive a Gradio API (the Ovi Space, Ovi's own app) connect here with telemetry off,
read the app's API, submit and follow a job, take its file, and classify what goes wrong at the
Gradio level; each backend classifies its own app's error messages (its failure table) through
the app_error it passes to classify. gradio_client loads on first use, not at import, so that the
registry can read a backend's declarations without it.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import wait
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import ConfigError, GenerationError
from . import BackendUpdate, Report
from .traits import Verdict

if TYPE_CHECKING:
    from gradio_client import Client
    from tenacity import RetryCallState
    from tenacity.stop import stop_base

__all__ = [
    "Client",
    "RetryPolicy",
    "api",
    "app_error",
    "classify",
    "connect",
    "credentials_refused",
    "describe",
    "follow",
    "handle_file",
    "nothing_listens",
    "span",
    "take",
    "with_backoff",
]
T = TypeVar("T")
AppVerdict = Callable[[str, str], Verdict]  # an app's own error (title, message) -> its verdict


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff for a busy Gradio app (a Space, Ovi's own app): bounded in attempts and in total
    time."""

    attempts: int = 6
    initial: float = 15.0

    @property
    def maximum(self) -> float:
        """The longest single wait."""
        return self.initial * 20

    @property
    def max_seconds(self) -> float:
        """The longest time spent retrying one call."""
        return self.initial * 80

    @property
    def jitter(self) -> float:
        """Random spread added to each wait, so that clients do not retry in step."""
        return self.initial / 3


def with_backoff(
    call: Callable[[], T],
    *,
    policy: RetryPolicy,
    busy: Callable[[BaseException], bool],
    sleep: Callable[[float], None],
    clock: Callable[[], float] = time.monotonic,
    waiting: Callable[[BaseException, int, float], None] = lambda error, attempt, wait: None,
) -> T:
    """Run call, retrying what busy() says may pass with tenacity's exponential backoff and
    jitter, bounded in attempts and in time on the caller's clock; waiting(error, attempt, wait)
    is told before each wait. The last failure is raised as it came, for the caller to map."""
    from tenacity import Retrying, retry_if_exception, stop_after_attempt
    from tenacity.wait import wait_exponential_jitter

    def before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        if error is not None:
            wait = state.next_action.sleep if state.next_action else 0.0
            waiting(error, state.attempt_number, wait)

    retrying = Retrying(
        stop=stop_after_attempt(policy.attempts) | _out_of_time(clock, policy.max_seconds),
        wait=wait_exponential_jitter(
            initial=policy.initial, max=policy.maximum, jitter=policy.jitter
        ),
        retry=retry_if_exception(busy),
        before_sleep=before_sleep,
        sleep=sleep,
        reraise=True,
    )
    return retrying(call)


def _out_of_time(clock: Callable[[], float], limit: float) -> stop_base:
    """A tenacity stop: once limit seconds have passed since the first try, on the backend's own
    clock (the one its sleeps advance), not on tenacity's (which tests cannot move)."""
    from tenacity.stop import stop_base

    class OutOfTime(stop_base):
        def __init__(self) -> None:
            self.started = clock()

        def __call__(self, retry_state: RetryCallState) -> bool:
            return clock() - self.started >= limit

    return OutOfTime()


def connect(src: str, *, token: str | None, download_dir: Path) -> Client:
    """A client for the app at src; its files land in download_dir; no telemetry."""
    from gradio_client import Client
    from httpx import Timeout

    download_dir.mkdir(parents=True, exist_ok=True)
    # gradio_client 2.x reports the app's address to Hugging Face unless the environment says no
    # (its analytics_enabled argument alone is not enough): a studio's private URL stays private.
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    return Client(
        src,
        token=token,
        verbose=False,
        download_files=str(download_dir),
        analytics_enabled=False,
        httpx_kwargs={"timeout": Timeout(60.0, connect=15.0)},
    )


def api(client: Client) -> dict[str, dict[str, dict[str, Any]]]:
    """The app's named endpoints and, for each, its parameters by name."""
    info = client.view_api(print_info=False, return_format="dict")
    endpoints = (info or {}).get("named_endpoints", {}) if isinstance(info, dict) else {}
    return {
        str(name): {str(p.get("parameter_name")): p for p in spec.get("parameters", [])}
        for name, spec in endpoints.items()
    }


def handle_file(path: str) -> Any:
    """A file argument as gradio_client uploads it."""
    from gradio_client import handle_file as wrap

    return wrap(path)


def app_error(exc: BaseException) -> tuple[str, str] | None:
    """(title, message) of an error the app raised (gr.Error), or None for any other."""
    from gradio_client.exceptions import AppError

    if isinstance(exc, AppError):
        return exc.title or "", exc.message or str(exc)
    return None


def nothing_listens(exc: BaseException) -> bool:
    """True when the connection was refused (nothing listens at the address), whichever HTTP
    stack wrapped the socket's error."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, ConnectionRefusedError):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return "connection refused" in str(exc).lower()


def credentials_refused(exc: BaseException) -> bool:
    """True when the app refused the token (or wanted one and got none)."""
    from gradio_client.exceptions import AuthenticationError

    return isinstance(exc, AuthenticationError)


def _generic_app_verdict(title: str, message: str) -> Verdict:
    """An app's error with no table of its own: quota words, no GPU, else a failed run."""
    lowered = f"{title} {message}".lower()
    if "quota" in lowered:
        return Verdict.QUOTA
    if "no gpu was available" in lowered or "queue timeout" in lowered:
        return Verdict.BUSY
    return Verdict.FAILED_RUN


def classify(exc: BaseException, *, app: AppVerdict = _generic_app_verdict) -> Verdict | None:
    """What an exception from gradio_client means (None: one f1gen never expects).

    The app's own errors go to app; refused credentials are fatal; a full queue, 429, the
    network and timeouts are busy; a ValueError or TypeError (an unknown app, an API that
    changed) is fatal.
    """
    import httpx
    from gradio_client.utils import QueueError, TooManyRequestsError

    raised = app_error(exc)  # before ValueError: AppError subclasses it in 2.x
    if raised is not None:
        return app(*raised)
    if credentials_refused(exc):
        return Verdict.FATAL
    busy = (QueueError, TooManyRequestsError, httpx.TransportError, ConnectionError, TimeoutError)
    if isinstance(exc, busy):
        return Verdict.BUSY
    if isinstance(exc, ValueError | TypeError):
        return Verdict.FATAL
    return None


def describe(exc: BaseException) -> str:
    """One line for an exception from gradio_client: an app's error as 'title: message'."""
    raised = app_error(exc)
    if raised is not None:
        title, message = raised
        return " ".join(f"{title + ': ' if title else ''}{message}".split())
    return " ".join(f"{type(exc).__name__}: {exc}".split())


def span(seconds: float) -> str:
    """A duration for a message: '0.5 s', '12 s', '15 min'."""
    return f"{seconds / 60:.3g} min" if seconds >= 60 else f"{seconds:.2g} s"


def run_job(
    client: Client,
    arguments: dict[str, Any],
    *,
    api_name: str,
    report: Report,
    limit: float,
    interrupted: threading.Event,
    poll_seconds: float = 0.5,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[Any, float]:
    """Send one job and follow it (see follow); GenerationError, and nothing sent, when the lane
    was interrupted already (woken from a backoff by Ctrl-C)."""
    if interrupted.is_set():
        raise GenerationError("interrupted: no job was sent")
    job = client.submit(**arguments, api_name=api_name)
    return follow(job, report=report, limit=limit, interrupted=interrupted,
                  poll_seconds=poll_seconds, clock=clock)  # fmt: skip


def follow(
    job: Any,
    *,
    report: Report,
    limit: float,
    interrupted: threading.Event,
    poll_seconds: float = 0.5,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[Any, float]:
    """Wait for a job, reporting queue and progress; cancel it past limit or when interrupted
    (Ctrl-C too: our place in the app's queue is freed).

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
                raise GenerationError(f"no clip after {span(limit)}: the job was cancelled")
            status = job.status()
            if processing_at is None and status.code in _working():
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


def take(
    result: Any,
    dest: Path,
    *,
    download_dir: Path,
    what: str,
    swallowed: str = "the app swallowed an error: see its log",
) -> None:
    """Move a downloaded video result to dest; None or no file is a failed run.

    A result is a path (Gradio 6), {"video": path} (Gradio 5) or a list holding one.
    """
    if isinstance(result, dict):
        result = result.get("video")
    if isinstance(result, list | tuple) and result:
        result = result[0]
    if not isinstance(result, str | Path) or not result:
        raise GenerationError(f"{what} returned no clip ({swallowed})")
    source = Path(result).resolve()
    if not source.is_file():
        raise GenerationError(f"{what}'s clip was not downloaded ({source.name})")
    shutil.move(str(source), dest)
    folder = source.parent
    if folder != download_dir.resolve() and download_dir.resolve() in folder.parents:
        shutil.rmtree(folder, ignore_errors=True)


@cache
def _working() -> frozenset[Any]:
    from gradio_client.utils import Status

    return frozenset({Status.PROCESSING, Status.ITERATING, Status.PROGRESS, Status.LOG})


def _update(status: Any) -> BackendUpdate | None:
    """What a job's status is worth showing: queue place and ETA, steps, or a stage."""
    from gradio_client.utils import Status

    code = status.code
    if code == Status.IN_QUEUE:
        rank = status.rank
        where = f"queue {rank + 1}/{status.queue_size}" if rank is not None else "queued"
        eta = f", eta {status.eta:.0f} s" if status.eta else ""
        return BackendUpdate(f"{where}{eta}")
    if code == Status.PROGRESS and status.progress_data:
        unit = status.progress_data[0]
        if unit.index is not None and unit.length:
            label = unit.desc or unit.unit or "steps"
            return BackendUpdate(f"{label} {unit.index}/{unit.length}", unit.index / unit.length)
        if unit.progress is not None:
            return BackendUpdate(unit.desc or "generating", unit.progress)
    if code in _working():
        return BackendUpdate("generating")
    if code in (Status.STARTING, Status.JOINING_QUEUE, Status.SENDING_DATA):
        return BackendUpdate("submitting")
    return None


def parameters_to_send(
    params: dict[str, dict[str, Any]],
    *,
    required: tuple[str, ...],
    optional: tuple[str, ...],
    where: str,
    fix: str,
) -> tuple[str, ...]:
    """Which of f1gen's parameters an endpoint declaring params takes; ConfigError (exit 3) when
    it lacks a required one or requires one f1gen does not know (naming where, then fix)."""
    missing = [name for name in required if name not in params]
    known = (*required, *optional)
    unknown = [
        name
        for name, p in params.items()
        if name not in known and not p.get("parameter_has_default", False)
    ]
    if missing or unknown:
        signature = ", ".join(params) or "nothing"
        what = f"lacks {', '.join(missing)}" if missing else f"requires {', '.join(unknown)}"
        raise ConfigError(f"{where} takes ({signature}) and {what}: f1gen cannot drive it; {fix}")
    return tuple(name for name in known if name in params)
