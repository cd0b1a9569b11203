"""The Ovi ZeroGPU Space through gradio_client: the only module that imports gradio_client.

Every failure is classified before anything is done about it:
busy (queue full, 429, no GPU, network) -> backoff and retry, then stop resumable (75);
failed run (worker error, no clip)      -> a failed attempt; the runner retries a few times;
quota exceeded                           -> stop at once, resumable, with the Space's retry time;
token, missing Space, broken API         -> stop with exit 3 and what to fix.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import wait
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

import httpx
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError, AuthenticationError
from gradio_client.utils import QueueError, Status, TooManyRequestsError
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
)
from tenacity.wait import wait_exponential_jitter

from ..config import Settings
from ..errors import ConfigError, F1genError, GenerationError, QuotaExceeded, SpaceBusy
from . import BackendUpdate, ClipRequest, ClipTiming, Report

T = TypeVar("T")
ENDPOINT = "/generate_scene"
PARAMETERS = ("text_prompt", "sample_steps", "image")
QUOTA = re.compile(r"exceeded your .*quota|runs limit|reached its GPU limit", re.IGNORECASE)
RETRY_IN = re.compile(r"(\d+):(\d\d):(\d\d)")
WORKING = {Status.PROCESSING, Status.ITERATING, Status.PROGRESS, Status.LOG}


class Verdict(Enum):
    """What kind of failure an exception from the Space is."""

    BUSY = "busy"
    FAILED_RUN = "failed run"
    QUOTA = "quota"
    FATAL = "fatal"


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff for a busy Space: bounded in attempts and in total time."""

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


def classify(exc: BaseException) -> Verdict | None:
    """The verdict for an exception raised by gradio_client, or None for one f1gen never expects."""
    if isinstance(exc, AppError):  # before ValueError: AppError subclasses it in 2.x
        text = f"{exc.title or ''} {exc.message or ''}"
        lowered = text.lower()
        if QUOTA.search(text):
            return Verdict.QUOTA
        if "illegal duration" in lowered or "larger than the maximum allowed" in lowered:
            return Verdict.FATAL
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


def retry_at_from(message: str, now: datetime) -> datetime | None:
    """When a quota message says to try again ('Try again in 0:41:10'), as a UTC time."""
    match = RETRY_IN.search(message)
    if not match:
        return None
    hours, minutes, seconds = (int(g) for g in match.groups())
    return now + timedelta(hours=hours, minutes=minutes, seconds=seconds)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, AppError):
        title = f"{exc.title}: " if exc.title else ""
        return " ".join(f"{title}{exc.message or exc}".split())
    return " ".join(f"{type(exc).__name__}: {exc}".split())


class OviSpaceBackend:
    """Makes clips on the Ovi Space (or any server with the same Gradio API)."""

    name = "ovi"
    frame_size = (576, 896)

    def __init__(
        self,
        *,
        settings: Settings,
        download_dir: Path,
        retry: RetryPolicy | None = None,
        poll_seconds: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self._address = settings.ovi_space  # what the client connects to
        self.space = settings.redact(settings.ovi_space)  # what messages and the state show
        self.download_dir = download_dir.resolve()
        self.retry = retry or RetryPolicy(settings.busy_retries, settings.backoff_seconds)
        self.poll_seconds = poll_seconds
        self.clock, self.now, self.sleep = clock, now, sleep
        self._client: Client | None = None
        self._send: tuple[str, ...] = PARAMETERS
        self._interrupted = threading.Event()

    @property
    def identity(self) -> str:
        """Clips depend on which Space made them."""
        return f"ovi:{self.space}"

    @property
    def account(self) -> str:
        """Whose ZeroGPU quota a clip spends: anonymous, or a token (a short digest, never it)."""
        if not self.settings.hf_token:
            return "anonymous"
        digest = hashlib.sha256(self.settings.hf_token.reveal().encode()).hexdigest()
        return f"token-{digest[:12]}"

    @property
    def sends(self) -> tuple[str, ...]:
        """The parameters f1gen sends to the endpoint (after prepare: those the Space declares)."""
        return self._send

    @property
    def anonymous(self) -> bool:
        """True when no Hugging Face token is configured."""
        return not self.settings.hf_token

    def prepare(self, report: Report) -> None:
        """Connect and check the Space's API before the first clip."""
        if self._client is None:
            self._client = self._with_backoff(self._connect, "the Space", report=report)
            self.check_api(self._client.view_api(print_info=False, return_format="dict"))

    def check_api(self, api: Any) -> None:
        """Stop with exit 3 unless the endpoint exists and takes what f1gen sends."""
        endpoints = (api or {}).get("named_endpoints", {}) if isinstance(api, dict) else {}
        if ENDPOINT not in endpoints:
            offered = ", ".join(sorted(endpoints)) or "no named endpoints"
            raise ConfigError(
                f"the Space {self.space} has no {ENDPOINT} endpoint (it offers: {offered}): "
                "check OVI_SPACE"
            )
        params = {p.get("parameter_name"): p for p in endpoints[ENDPOINT].get("parameters", [])}
        missing = [name for name in PARAMETERS if name not in params]
        unknown = [
            str(name)
            for name, p in params.items()
            if name not in PARAMETERS and not p.get("parameter_has_default", False)
        ]
        if missing or unknown:
            signature = ", ".join(str(name) for name in params) or "nothing"
            what = f"lacks {', '.join(missing)}" if missing else f"requires {', '.join(unknown)}"
            raise ConfigError(
                f"{ENDPOINT} on {self.space} takes ({signature}) and {what}: "
                "f1gen cannot drive it; check OVI_SPACE or update f1gen"
            )
        self._send = tuple(name for name in PARAMETERS if name in params)

    def interrupt(self) -> None:
        """Cancel the job being followed at its next poll (called from another thread)."""
        self._interrupted.set()

    def close(self) -> None:
        """Close the client's connections."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def generate(self, request: ClipRequest, dest: Path, report: Report) -> ClipTiming:
        """Submit the scene, follow its job, and move the clip to dest."""
        self.prepare(report)
        arguments = {
            "text_prompt": request.prompt,
            "sample_steps": request.sample_steps,
            "image": handle_file(str(request.image)),
        }
        sent = {name: arguments[name] for name in self._send}

        def attempt() -> tuple[Any, float]:
            assert self._client is not None
            job = self._client.submit(**sent, api_name=ENDPOINT)
            return self._follow(job, report)

        result, queue_seconds = self._with_backoff(attempt, "the Space", report=report)
        self._take(result, dest)
        return ClipTiming(queue_seconds=queue_seconds)

    # The rest is private: connection, backoff, job following, results.

    def _connect(self) -> Client:
        self.download_dir.mkdir(parents=True, exist_ok=True)
        # The Space id or URL is nobody else's business: gradio_client 2.x reports it to Hugging
        # Face unless analytics are off in the environment (its argument alone is not enough).
        os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
        os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
        token = self.settings.hf_token.reveal() if self.settings.hf_token else None
        return Client(
            self._address,
            token=token,
            verbose=False,
            download_files=str(self.download_dir),
            analytics_enabled=False,
            httpx_kwargs={"timeout": httpx.Timeout(60.0, connect=15.0)},
        )

    def _with_backoff(self, call: Callable[[], T], what: str, *, report: Report | None) -> T:
        """Run call, retrying busy failures with exponential backoff; map every failure."""
        policy = self.retry

        def before_sleep(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            wait = state.next_action.sleep if state.next_action else 0.0
            if report is not None and error is not None:
                at = self.now() + timedelta(seconds=wait)
                report(
                    BackendUpdate(
                        f"{what} is busy ({self._redact(_describe(error))}); "
                        f"retry {state.attempt_number}/{policy.attempts - 1} in {wait:.0f} s "
                        f"(at {at:%H:%M:%S} UTC)",
                        notable=True,
                    )
                )

        retrying = Retrying(
            stop=stop_after_attempt(policy.attempts) | stop_after_delay(policy.max_seconds),
            wait=wait_exponential_jitter(
                initial=policy.initial, max=policy.maximum, jitter=policy.jitter
            ),
            retry=retry_if_exception(lambda e: classify(e) is Verdict.BUSY),
            before_sleep=before_sleep,
            sleep=self.sleep,
            reraise=True,
        )
        try:
            return retrying(call)
        except F1genError:
            raise
        except Exception as exc:
            raise self._translate(exc, tries=policy.attempts) from None

    def _translate(self, exc: Exception, *, tries: int) -> F1genError:
        verdict = classify(exc)
        detail = self._redact(_describe(exc))
        if verdict is Verdict.BUSY:
            return SpaceBusy(
                f"the Space {self.space} stayed busy or unreachable through {tries} tries "
                f"(last: {detail}): the run is saved; re-run later, off-peak",
                last=detail,
            )
        if verdict is Verdict.QUOTA:
            retry_at = retry_at_from(detail, self.now())
            when = f"until {retry_at:%Y-%m-%d %H:%M} UTC" if retry_at else "for now"
            return QuotaExceeded(
                f"ZeroGPU quota exhausted {when} ({detail}): the run is saved; re-run "
                f"{'after that' if retry_at else 'later'}",
                retry_at=retry_at,
            )
        if verdict is Verdict.FAILED_RUN:
            return GenerationError(detail)
        if verdict is Verdict.FATAL:
            return ConfigError(self._fatal_message(exc, detail))
        raise exc

    def _fatal_message(self, exc: Exception, detail: str) -> str:
        if isinstance(exc, AuthenticationError):
            if self.anonymous:
                return f"the Space {self.space} needs a Hugging Face token: set HF_TOKEN in .env"
            source = self.settings.token_source
            fix = "pass a valid one" if source.startswith("--") else "refresh it in .env"
            return f"{source} was rejected by the Space {self.space}: {fix}"
        text = str(exc)
        if "Could not find Space" in text:
            return f"Space {self.space} was not found: check OVI_SPACE (an owner/name id or a URL)"
        if "invalid state" in text:
            return f"the Space {self.space} is not running ({detail}): wait for it, or use another"
        if "not a valid key-word argument" in text or isinstance(exc, TypeError):
            return f"the Space's API changed ({detail}): run 'f1gen doctor' and update f1gen"
        return f"the Space refused the request ({detail}): lower sample_steps or check OVI_SPACE"

    def _follow(self, job: Any, report: Report) -> tuple[Any, float]:
        """Wait for a job, reporting its queue and progress; cancel it past the time limit."""
        started = self.clock()
        processing_at: float | None = None
        limit = self.settings.clip_timeout
        last = ""
        try:
            while not job.done():
                if self._interrupted.is_set():
                    raise GenerationError("interrupted: the job was cancelled")
                if self.clock() - started > limit:
                    spent = f"{limit / 60:g} min" if limit >= 60 else f"{limit:g} s"
                    raise GenerationError(f"no clip after {spent}: the job was cancelled")
                status = job.status()
                if processing_at is None and status.code in WORKING:
                    processing_at = self.clock()
                update = _status_update(status)
                if update is not None and update.message != last:
                    report(update)
                    last = update.message
                wait([job.future], timeout=self.poll_seconds)  # wakes as soon as it is done
        except BaseException:
            job.cancel()  # Ctrl-C or the time limit: free our place on the Space
            raise
        queue_seconds = (processing_at or self.clock()) - started
        return job.result(), queue_seconds

    def _take(self, result: Any, dest: Path) -> None:
        """Move the downloaded clip to dest; a missing clip is a failed run."""
        if isinstance(result, dict):
            result = result.get("video")
        if isinstance(result, list | tuple) and result:
            result = result[0]
        if not isinstance(result, str | Path) or not result:
            raise GenerationError("the Space returned no clip (its app swallowed an error)")
        source = Path(result).resolve()
        if not source.is_file():
            raise GenerationError(f"the Space's clip was not downloaded ({source.name})")
        shutil.move(str(source), dest)
        folder = source.parent
        if folder != self.download_dir and self.download_dir in folder.parents:
            shutil.rmtree(folder, ignore_errors=True)

    def _redact(self, text: str) -> str:
        return self.settings.redact(text)


def _status_update(status: Any) -> BackendUpdate | None:
    code = status.code
    if code == Status.IN_QUEUE:
        where = (
            f"queue {status.rank + 1}/{status.queue_size}" if status.rank is not None else "queued"
        )
        eta = f", eta {status.eta:.0f} s" if status.eta else ""
        return BackendUpdate(f"{where}{eta}")
    if code == Status.PROGRESS and status.progress_data:
        unit = status.progress_data[0]
        if unit.index is not None and unit.length:
            label = unit.desc or unit.unit or "steps"
            return BackendUpdate(f"{label} {unit.index}/{unit.length}", unit.index / unit.length)
        if unit.progress is not None:
            return BackendUpdate(unit.desc or "generating", unit.progress)
    if code in WORKING:
        return BackendUpdate("generating")
    if code in (Status.STARTING, Status.JOINING_QUEUE, Status.SENDING_DATA):
        return BackendUpdate("submitting")
    return None
