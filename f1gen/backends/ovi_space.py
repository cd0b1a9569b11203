"""The Ovi ZeroGPU Space through gradio_client and the Hugging Face Hub: the only module that
imports either.

A Space id is resolved on the Hub first (its address and its stage), with a bounded wait while it
builds or wakes: gradio_client's own wait has no limit. A URL goes straight to the app.

Every failure is classified before anything is done about it:
busy (queue full, 429, 5xx, no GPU, network from any HTTP stack, a Space still building)
    -> backoff and retry, then stop resumable (75);
failed run (worker error, no clip) -> a failed attempt; the runner retries a few times;
quota exceeded -> stop at once, resumable, with the Space's retry time;
token refused, Space missing or stopped, API changed -> stop with exit 3 and what to fix.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
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
from huggingface_hub import HfApi
from huggingface_hub.errors import (
    HfHubHTTPError,
    HFValidationError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
)
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
)
from tenacity.wait import wait_exponential_jitter

from ..config import Settings
from ..errors import BackendBusy, ConfigError, F1genError, GenerationError, QuotaExceeded
from . import BackendUpdate, ClipRequest, ClipTiming, Report

T = TypeVar("T")
ENDPOINT = "/generate_scene"
PARAMETERS = ("text_prompt", "sample_steps", "image")
QUOTA = re.compile(r"exceeded your .*quota|runs limit|reached its GPU limit", re.IGNORECASE)
RETRY_IN = re.compile(r"(\d+):(\d\d):(\d\d)")
WORKING = {Status.PROCESSING, Status.ITERATING, Status.PROGRESS, Status.LOG}
# A Space id as the Hub spells them: owner/name, letters, digits, '-', '_', '.'.
SPACE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}")
# Stages of a Space on the Hub (huggingface_hub.SpaceStage, and SLEEPING, which it lacks).
READY = {"RUNNING", "RUNNING_BUILDING", "RUNNING_APP_STARTING"}
STARTING = {"BUILDING", "APP_STARTING", "SLEEPING"}
HUB_TIMEOUT = 30.0
# Network failures, whichever HTTP stack raised them (huggingface_hub 2.x speaks httpx2).
NETWORK: tuple[type[BaseException], ...] = (httpx.TransportError, ConnectionError, TimeoutError)
try:
    import httpx2

    NETWORK = (*NETWORK, httpx2.TransportError)
    STATUS_ERRORS: tuple[type[Exception], ...] = (httpx.HTTPStatusError, httpx2.HTTPStatusError)
except ImportError:  # huggingface_hub 1.x speaks httpx
    STATUS_ERRORS = (httpx.HTTPStatusError,)
# OSErrors about local files, not the network: a full disk is not a busy Space.
LOCAL_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT, errno.ENOENT,
                errno.EISDIR, errno.ENOTDIR, errno.EEXIST}  # fmt: skip


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
    """The verdict for an exception raised by gradio_client or the Hub, or None for a bug."""
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
    if isinstance(exc, AuthenticationError | OfflineModeIsEnabled):
        return Verdict.FATAL
    status = _status_of(exc)
    if status is not None:  # an HTTP answer (Hub or Space): 5xx, 408 and 429 pass
        return Verdict.BUSY if status >= 500 or status in (408, 429) else Verdict.FATAL
    if isinstance(exc, (QueueError, TooManyRequestsError, *NETWORK)):
        return Verdict.BUSY
    if isinstance(exc, OSError):  # requests' errors, sockets, TLS; but not local files
        return None if exc.errno in LOCAL_ERRNOS else Verdict.BUSY
    if isinstance(exc, ValueError | TypeError):
        return Verdict.FATAL
    return None


def _status_of(exc: BaseException) -> int | None:
    """The HTTP status an error carries, from the Hub (httpx2) or a Space (httpx)."""
    if isinstance(exc, (HfHubHTTPError, *STATUS_ERRORS)):
        response = getattr(exc, "response", None)
        status = getattr(response, "status_code", None)
        return status if isinstance(status, int) else None
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
    status = _status_of(exc)
    if isinstance(exc, HfHubHTTPError) and status is not None:
        return f"the Hub answered HTTP {status}"
    if status is not None:
        return f"the app answered HTTP {status}"
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
            client, api = self._with_backoff(
                lambda: self._connect(report), "the Space", report=report
            )
            self._client = client
            self.check_api(api)

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

    def _connect(self, report: Report) -> tuple[Client, Any]:
        """A client for the Space's app and the app's API description."""
        self.download_dir.mkdir(parents=True, exist_ok=True)
        # The Space id or URL is nobody else's business: gradio_client 2.x reports it to Hugging
        # Face unless analytics are off in the environment (its argument alone is not enough).
        os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
        os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
        token = self.settings.hf_token.reveal() if self.settings.hf_token else None
        src = self._resolve(token, report)
        try:
            client = Client(
                src,
                token=token,
                verbose=False,
                download_files=str(self.download_dir),
                analytics_enabled=False,
                httpx_kwargs={"timeout": httpx.Timeout(60.0, connect=15.0)},
            )
        except ValueError as exc:
            if "Could not fetch config" in str(exc):
                self._raise_config_status(src, token)  # 5xx: busy; 4xx: not a Gradio app
            raise
        try:
            return client, client.view_api(print_info=False, return_format="dict")
        except BaseException:
            client.close()
            raise

    def _resolve(self, token: str | None, report: Report) -> str:
        """The address of the Space's app: a URL as given; an id through the Hub, once it runs.

        The Hub is asked for the Space's host and stage; a Space that is building, starting or
        asleep is waited for (and a sleeping one woken), at most as long as the busy backoff
        would wait, with a visible line. gradio_client would wait for a build forever.
        """
        if self._address.startswith(("http://", "https://")):
            return self._address  # the URL as given, password and all (self.space hides it)
        if not SPACE_ID.fullmatch(self.space):
            raise ConfigError(
                f"OVI_SPACE {self.space!r} is neither a Space id (owner/name) nor a URL "
                "(http://... or https://...): fix it in .env or pass --space"
            )
        hub = HfApi()
        started = self.clock()
        limit = self.retry.max_seconds
        said = ""
        while True:
            info = hub.space_info(self.space, token=token, timeout=HUB_TIMEOUT)
            runtime = info.runtime or hub.get_space_runtime(self.space, token=token)
            stage = str(getattr(runtime.stage, "value", runtime.stage))  # a str, or a SpaceStage
            if stage in READY:
                break
            if stage not in STARTING:
                raise ConfigError(
                    f"the Space {self.space} is not running (the Hub says {stage}): "
                    "restart it on its Hugging Face page, or set OVI_SPACE to another"
                )
            waited = self.clock() - started
            if waited >= limit:
                raise BackendBusy(
                    f"the Space {self.space} is still {stage.lower()} after {_span(waited)}: "
                    "the run is saved; re-run later",
                    last=f"the Hub says {stage}",
                )
            if stage != said:
                doing = "asleep: waking it" if stage == "SLEEPING" else f"{stage.lower()}: waiting"
                report(BackendUpdate(
                    f"the Space {self.space} is {doing} (up to {_span(limit)})", notable=True
                ))  # fmt: skip
                said = stage
            if stage == "SLEEPING" and info.host:
                self._wake(info.host, token)
            self.sleep(max(self.retry.initial, 0.01))
        if not info.host:
            raise ConfigError(
                f"the Hub gives no address for the Space {self.space}: check OVI_SPACE, "
                "or give the Space's URL"
            )
        return str(info.host)

    def _wake(self, host: str, token: str | None) -> None:
        """Visit a sleeping Space's address, which wakes it; its answer does not matter."""
        with contextlib.suppress(httpx.HTTPError):
            httpx.get(host, headers=_space_headers(token), timeout=HUB_TIMEOUT)

    def _raise_config_status(self, src: str, token: str | None) -> None:
        """Raise the HTTP status the app answers its config with (the client hides it)."""
        url = src.rstrip("/") + "/config"
        httpx.get(url, headers=_space_headers(token), timeout=HUB_TIMEOUT).raise_for_status()

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
            return BackendBusy(
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
        space = self.space
        if isinstance(exc, AuthenticationError):
            if self.anonymous:
                return f"the Space {space} needs a Hugging Face token: set HF_TOKEN in .env"
            source = self.settings.token_source
            fix = "pass a valid one" if source.startswith("--") else "refresh it in .env"
            return f"{source} was rejected by the Space {space}: {fix}"
        if isinstance(exc, OfflineModeIsEnabled):
            return (
                f"HF_HUB_OFFLINE is set, but the Space id {space} must be looked up on the "
                "Hugging Face Hub: unset HF_HUB_OFFLINE, or set OVI_SPACE to the Space's URL"
            )
        if isinstance(exc, RepositoryNotFoundError):
            private = (
                "if it is private, set HF_TOKEN in .env"
                if self.anonymous
                else "if it is private, HF_TOKEN must be allowed to read it"
            )
            return (
                f"Space {space} was not found on the Hub: check OVI_SPACE (owner/name; {private})"
            )
        status = _status_of(exc)
        if isinstance(exc, HfHubHTTPError) and status in (401, 403):
            if self.anonymous:
                return f"the Hub refused the Space {space} (HTTP {status}): set HF_TOKEN in .env"
            source = self.settings.token_source
            fix = "pass a valid one" if source.startswith("--") else "refresh it in .env"
            return f"{source} was refused by the Hugging Face Hub (HTTP {status}): {fix}"
        if isinstance(exc, HfHubHTTPError):
            return f"the Hub answered HTTP {status} about the Space {space}: check OVI_SPACE"
        if status is not None:  # the app itself, asked for its config
            return (
                f"{space} answered HTTP {status} instead of a Gradio app's config: "
                "check OVI_SPACE (a Space id or the URL of a Gradio app)"
            )
        if isinstance(exc, HFValidationError):
            return f"OVI_SPACE {space!r} is not a valid Space id: use owner/name or a URL"
        if isinstance(exc, json.JSONDecodeError) or "Could not fetch config" in str(exc):
            return (
                f"{space} did not answer like a Gradio app (no JSON config): "
                "check OVI_SPACE (a Space id or the URL of a Gradio app)"
            )
        text = str(exc)
        if "Could not find Space" in text:
            return f"Space {space} was not found: check OVI_SPACE (an owner/name id or a URL)"
        if "invalid state" in text:
            return f"the Space {space} is not running ({detail}): wait for it, or use another"
        if "not a valid key-word argument" in text or isinstance(exc, TypeError):
            return f"the Space's API changed ({detail}): run 'f1gen doctor' and update f1gen"
        if isinstance(exc, AppError):  # the illegal-duration family: the GPU time asked for
            return (
                f"the Space refused the request ({detail}): lower sample_steps or check OVI_SPACE"
            )
        return f"the Space {space} answered what f1gen cannot use ({detail}): check OVI_SPACE"

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
                    raise GenerationError(f"no clip after {_span(limit)}: the job was cancelled")
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


def _span(seconds: float) -> str:
    """A duration for a message: '0.5 s', '12 s', '15 min'."""
    return f"{seconds / 60:.3g} min" if seconds >= 60 else f"{seconds:.2g} s"


def _space_headers(token: str | None) -> dict[str, str]:
    """The token as gradio_client sends it to a Space (a header the Space's proxy reads)."""
    return {"x-hf-authorization": f"Bearer {token}"} if token else {}


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
