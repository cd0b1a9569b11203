"""The Ovi ZeroGPU Space, through the Gradio door (gradio_door.py) and the Hugging Face Hub.

A Space id is resolved on the Hub first (its address and its stage), with a bounded wait while it
builds or wakes: gradio_client's own wait has no limit. A URL goes straight to the app.

Every failure is classified before anything is done about it (classify: the Space's failure
table):
busy (queue full, 429, 5xx, no GPU, network from any HTTP stack, a Space still building)
    -> backoff and retry, then stop resumable (75);
failed run (worker error, no clip) -> a failed attempt; the runner retries a few times;
quota exceeded -> stop at once, resumable, with the Space's retry time;
token refused, Space missing or stopped, API changed -> stop with exit 3 and what to fix.

Endpoints (OVI_SPACE, several allowed) are parsed when this backend is built or checked, so that
a bad OVI_SPACE never stops another backend or a command that makes no clip. The Hub's client,
httpx and tenacity load on first use, not at import.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import BackendBusy, ConfigError, F1genError, GenerationError, QuotaExceeded
from . import Backend, BackendUpdate, ClipRequest, ClipTiming, Factory, Probe, Report, gradio_door
from .gradio_door import RetryPolicy
from .gradio_door import span as _span
from .models import OVI_720_5S
from .ovi_prompt import OVI_PROMPT
from .ovi_settings import SETTINGS, derived, endpoints, for_endpoint
from .traits import OVI_SPEC, ZEROGPU_PRICE, Verdict

if TYPE_CHECKING:
    from ..settings import Settings

T = TypeVar("T")
ENDPOINT = "/generate_scene"
PARAMETERS = ("text_prompt", "sample_steps", "image")  # f1gen needs these
OPTIONAL = ("video_seed",)  # sent when the Space declares it (and the scene has a seed)
QUOTA = re.compile(r"exceeded your .*quota|runs limit|reached its GPU limit", re.IGNORECASE)
RETRY_IN = re.compile(r"(\d+):(\d\d):(\d\d)")
# A Space id as the Hub spells them: owner/name, letters, digits, '-', '_', '.'.
SPACE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}")
# Stages of a Space on the Hub (huggingface_hub.SpaceStage, and SLEEPING, which it lacks).
READY = {"RUNNING", "RUNNING_BUILDING", "RUNNING_APP_STARTING"}
STARTING = {"BUILDING", "APP_STARTING", "SLEEPING"}
HUB_TIMEOUT = 30.0
# OSErrors about local files, not the network: a full disk is not a busy Space.
LOCAL_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT, errno.ENOENT,
                errno.EISDIR, errno.ENOTDIR, errno.EEXIST}  # fmt: skip


@cache
def _network_errors() -> tuple[type[BaseException], ...]:
    """Network failures, whichever HTTP stack raised them (huggingface_hub 2.x speaks httpx2)."""
    import httpx

    found: tuple[type[BaseException], ...] = (httpx.TransportError, ConnectionError, TimeoutError)
    try:
        import httpx2
    except ImportError:  # huggingface_hub 1.x speaks httpx
        return found
    return (*found, httpx2.TransportError)


@cache
def _status_errors() -> tuple[type[BaseException], ...]:
    """Errors that carry an HTTP answer: the Hub's (httpx2) and an app's (httpx)."""
    import httpx
    from huggingface_hub.errors import HfHubHTTPError

    try:
        import httpx2
    except ImportError:
        return (HfHubHTTPError, httpx.HTTPStatusError)
    return (HfHubHTTPError, httpx.HTTPStatusError, httpx2.HTTPStatusError)


def _space_verdict(title: str, message: str) -> Verdict:
    """The ZeroGPU errors a Space raises (gr.Error with a title)."""
    text = f"{title} {message}"
    lowered = text.lower()
    if QUOTA.search(text):
        return Verdict.QUOTA
    if "illegal duration" in lowered or "larger than the maximum allowed" in lowered:
        return Verdict.FATAL
    if "no gpu was available" in lowered or "queue timeout" in lowered:
        return Verdict.BUSY
    return Verdict.FAILED_RUN


def classify(exc: BaseException) -> Verdict | None:
    """The verdict for an exception raised by gradio_client or the Hub, or None for a bug."""
    from huggingface_hub.errors import OfflineModeIsEnabled

    if gradio_door.app_error(exc) is not None:
        return gradio_door.classify(exc, app=_space_verdict)
    if isinstance(exc, OfflineModeIsEnabled):  # before the network: it is a ConnectionError
        return Verdict.FATAL
    status = _status_of(exc)
    if status is not None:  # an HTTP answer (Hub or Space): 5xx, 408 and 429 pass
        return Verdict.BUSY if status >= 500 or status in (408, 429) else Verdict.FATAL
    verdict = gradio_door.classify(exc, app=_space_verdict)
    if verdict is not None:
        return verdict
    if isinstance(exc, _network_errors()):
        return Verdict.BUSY
    if isinstance(exc, OSError):  # requests' errors, sockets, TLS; but not local files
        return None if exc.errno in LOCAL_ERRNOS else Verdict.BUSY
    return None


def _status_of(exc: BaseException) -> int | None:
    """The HTTP status an error carries, from the Hub (httpx2) or a Space (httpx)."""
    if isinstance(exc, _status_errors()):
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
    from huggingface_hub.errors import HfHubHTTPError

    if gradio_door.app_error(exc) is not None:
        return gradio_door.describe(exc)
    status = _status_of(exc)
    if isinstance(exc, HfHubHTTPError) and status is not None:
        return f"the Hub answered HTTP {status}"
    if status is not None:
        return f"the app answered HTTP {status}"
    return " ".join(f"{type(exc).__name__}: {exc}".split())


class OviSpaceBackend:
    """Makes clips on the Ovi Space (or any server with the same Gradio API)."""

    name = "ovi"
    spec = OVI_SPEC

    def __init__(
        self,
        *,
        settings: Settings,
        download_dir: Path,
        retry: RetryPolicy | None = None,
        poll_seconds: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.settings = settings
        self._address = settings.text("ovi_space")  # what the client connects to
        self.space = settings.redact(settings.text("ovi_space"))  # what messages and the state show
        self.download_dir = download_dir.resolve()
        self.retry = retry or RetryPolicy(settings.busy_retries, settings.backoff_seconds)
        self.poll_seconds = poll_seconds
        self.clock, self.now = clock, now
        self.sleep = sleep or self._pause
        self.waited = 0.0  # seconds of backoff in the clip being made
        self._client: gradio_door.Client | None = None
        self._send: tuple[str, ...] = PARAMETERS
        self._interrupted = threading.Event()
        self._contacted = False  # tried once: from then on, a refused connection is busy

    @property
    def identity(self) -> str:
        """Clips depend on which Space made them."""
        return f"ovi:{self.space}"

    @property
    def account(self) -> str:
        """Whose ZeroGPU quota a clip spends: anonymous, or a token (a short digest, never it)."""
        token = self.settings.secret("hf_token")
        if not token:
            return "anonymous"
        digest = hashlib.sha256(token.reveal().encode()).hexdigest()
        return f"token-{digest[:12]}"

    @property
    def sends(self) -> tuple[str, ...]:
        """The parameters f1gen sends to the endpoint (after prepare: those the Space declares)."""
        return self._send

    @property
    def anonymous(self) -> bool:
        """True when no Hugging Face token is configured."""
        return not self.settings.secret("hf_token")

    def prepare(self, report: Report) -> None:
        """Connect and check the Space's API before the first clip."""
        if self._client is None:
            client, api = self._with_backoff(
                lambda: self._first_contact(report), "the Space", report=report
            )
            self._client = client
            self.check_api(api)

    def check_api(self, endpoints: dict[str, dict[str, dict[str, Any]]]) -> None:
        """Stop with exit 3 unless the endpoint exists and takes what f1gen sends."""
        if ENDPOINT not in endpoints:
            offered = ", ".join(sorted(endpoints)) or "no named endpoints"
            raise ConfigError(
                f"the Space {self.space} has no {ENDPOINT} endpoint (it offers: {offered}): "
                "check OVI_SPACE"
            )
        self._send = gradio_door.parameters_to_send(
            endpoints[ENDPOINT],
            required=PARAMETERS,
            optional=OPTIONAL,
            where=f"{ENDPOINT} on {self.space}",
            fix="check OVI_SPACE or update f1gen",
        )

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
        self.waited = 0.0  # backoff before this clip (a lane makes one clip at a time)
        self.prepare(report)
        arguments: dict[str, Any] = {
            "text_prompt": request.prompt,
            "sample_steps": request.sample_steps,
            "image": gradio_door.handle_file(str(request.image)),
        }
        if request.seed is not None:
            arguments["video_seed"] = request.seed
        sent = {name: arguments[name] for name in self._send if name in arguments}

        def attempt() -> tuple[Any, float]:
            assert self._client is not None
            return gradio_door.run_job(
                self._client,
                sent,
                api_name=ENDPOINT,
                report=report,
                limit=self.settings.clip_timeout,
                interrupted=self._interrupted,
                poll_seconds=self.poll_seconds,
                clock=self.clock,
            )

        result, queue_seconds = self._with_backoff(attempt, "the Space", report=report)
        self._take(result, dest)
        return ClipTiming(queue_seconds=queue_seconds, backoff_seconds=self.waited)

    # The rest is private: connection, backoff, job following, results.

    def _first_contact(self, report: Report) -> tuple[gradio_door.Client, Any]:
        """Connect; a URL the user gave where nothing listens, at the first try, is a mistake
        to fix (exit 3), not a busy Space: busy is for a Space that has answered."""
        contacted, self._contacted = self._contacted, True
        try:
            return self._connect(report)
        except Exception as exc:
            typed = self._address.startswith(("http://", "https://"))
            if typed and not contacted and gradio_door.nothing_listens(exc):
                raise ConfigError(
                    f"nothing answers at {self.space} (connection refused): check the URL in "
                    "OVI_SPACE (or --space), or start the app there"
                ) from None
            raise

    def _connect(self, report: Report) -> tuple[gradio_door.Client, Any]:
        """A client for the Space's app and the app's API."""
        secret = self.settings.secret("hf_token")
        token = secret.reveal() if secret else None
        src = self._resolve(token, report)
        try:
            client = gradio_door.connect(src, token=token, download_dir=self.download_dir)
        except ValueError as exc:
            if "Could not fetch config" in str(exc):
                self._raise_config_status(src, token)  # 5xx: busy; 4xx: not a Gradio app
            raise
        try:
            return client, gradio_door.api(client)
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
        from huggingface_hub import HfApi

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
            if self._interrupted.is_set():
                raise GenerationError("interrupted: the Space was not waited for")
        if not info.host:
            raise ConfigError(
                f"the Hub gives no address for the Space {self.space}: check OVI_SPACE, "
                "or give the Space's URL"
            )
        return str(info.host)

    def _wake(self, host: str, token: str | None) -> None:
        """Visit a sleeping Space's address, which wakes it; its answer does not matter."""
        import httpx

        with contextlib.suppress(httpx.HTTPError):
            httpx.get(host, headers=_space_headers(token), timeout=HUB_TIMEOUT)

    def _raise_config_status(self, src: str, token: str | None) -> None:
        """Raise the HTTP status the app answers its config with (the client hides it)."""
        import httpx

        url = src.rstrip("/") + "/config"
        httpx.get(url, headers=_space_headers(token), timeout=HUB_TIMEOUT).raise_for_status()

    def _with_backoff(self, call: Callable[[], T], what: str, *, report: Report | None) -> T:
        """Run call, retrying busy failures with exponential backoff; map every failure."""
        policy = self.retry

        def waiting(error: BaseException, attempt: int, wait: float) -> None:
            self.waited += wait  # backoff, not generation: reported as wait time
            if report is not None:
                at = self.now() + timedelta(seconds=wait)
                report(
                    BackendUpdate(
                        f"{what} is busy ({self._redact(_describe(error))}); "
                        f"retry {attempt}/{policy.attempts - 1} in {wait:.0f} s "
                        f"(at {at:%H:%M:%S} UTC)",
                        notable=True,
                    )
                )

        try:
            return gradio_door.with_backoff(
                call,
                policy=policy,
                busy=lambda e: classify(e) is Verdict.BUSY,
                sleep=self.sleep,
                clock=self.clock,
                waiting=waiting,
            )
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
        from huggingface_hub.errors import (
            HfHubHTTPError,
            HFValidationError,
            OfflineModeIsEnabled,
            RepositoryNotFoundError,
        )

        space = self.space
        if gradio_door.credentials_refused(exc):
            if self.anonymous:
                return f"the Space {space} needs a Hugging Face token: set HF_TOKEN in .env"
            source = self.settings.text("token_source")
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
            source = self.settings.text("token_source")
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
        if gradio_door.app_error(exc) is not None:  # illegal duration: the GPU time asked for
            return (
                f"the Space refused the request ({detail}): lower sample_steps or check OVI_SPACE"
            )
        return f"the Space {space} answered what f1gen cannot use ({detail}): check OVI_SPACE"

    def _take(self, result: Any, dest: Path) -> None:
        """Move the downloaded clip to dest; a missing clip is a failed run."""
        gradio_door.take(
            result,
            dest,
            download_dir=self.download_dir,
            what="the Space",
            swallowed="its app swallowed an error",
        )

    def _pause(self, seconds: float) -> None:
        """A backoff's wait, cut short by interrupt(): the clip runs on a lane's thread."""
        self._interrupted.wait(seconds)

    def _redact(self, text: str) -> str:
        return self.settings.redact(text)


def _space_headers(token: str | None) -> dict[str, str]:
    """The token as gradio_client sends it to a Space (a header the Space's proxy reads)."""
    return {"x-hf-authorization": f"Bearer {token}"} if token else {}


def _build(settings: Settings, *, workdir: Path, parallel: int | None) -> list[Backend]:
    """One lane per endpoint, each with its own token (one clip in flight on each)."""
    found = endpoints(settings)  # OVI_SPACE is parsed now, not for every command
    if len(found) == 1:
        only = for_endpoint(settings, found[0])  # its @NAME token too
        return [OviSpaceBackend(settings=only, download_dir=workdir / "tmp")]
    return [
        OviSpaceBackend(
            settings=for_endpoint(settings, endpoint),
            download_dir=workdir / "tmp" / f"lane-{index}",
        )
        for index, endpoint in enumerate(found)
    ]


def _checks(settings: Settings, *, scratch: Path) -> list[Probe]:
    """The token, then each endpoint with its own token: it answers, and its API takes what f1gen
    sends (one try, no backoff; nothing is generated)."""
    probes = [Probe("token", partial(_token_line, settings))]
    try:
        found = endpoints(settings)
    except ConfigError as exc:
        problem = exc

        def unusable() -> str:
            raise problem

        return [*probes, Probe("space", unusable)]
    return probes + [
        Probe("space", partial(_space_line, for_endpoint(settings, endpoint), scratch / str(index)))
        for index, endpoint in enumerate(found)
    ]


def _token_line(settings: Settings) -> str:
    if settings.secret("hf_token"):
        return "HF_TOKEN is set"
    return "HF_TOKEN is not set: the anonymous ZeroGPU quota is about 2 minutes a day"


def _space_line(settings: Settings, scratch: Path) -> str:
    backend = OviSpaceBackend(
        settings=settings, download_dir=scratch, retry=RetryPolicy(attempts=1, initial=0)
    )
    try:
        backend.prepare(lambda update: None)
        return f"{backend.space}: {ENDPOINT} takes {', '.join(backend.sends)}"
    except BackendBusy as exc:
        raise BackendBusy(f"{backend.space} is busy or unreachable: {exc.last}") from None
    finally:
        backend.close()


def _notices(settings: Settings) -> tuple[str, ...]:
    """No token: the run is on the anonymous quota, and the user should know before it starts."""
    if settings.secret("hf_token"):
        return ()
    return (
        "note: no HF_TOKEN set: running on the anonymous ZeroGPU quota (about 2 minutes a day); "
        "set HF_TOKEN in .env for more",
    )


FACTORY = Factory(
    name="ovi",
    spec=OVI_SPEC,
    prompt=OVI_PROMPT,
    price=ZEROGPU_PRICE,
    failures=classify,
    default_parallel=1,  # per endpoint: a Space runs one clip of ours at a time
    accepts_seed=True,  # as video_seed, when the Space's live API declares it
    build=_build,
    checks=_checks,
    notices=_notices,
    settings=SETTINGS,
    derived=derived,
    models=(OVI_720_5S,),
)
