"""fal.ai's queue API through fal-client: the only module that imports fal_client.

Model `fal-ai/ovi/image-to-video`, key FAL_KEY. Requests are durable at fal and looked up by
id, so a run that died while waiting fetches the same request's result. fal cannot be searched
for a request whose id was never seen: such a request is held back, not sent blind twice.

Two things fal-client does on its own are adjusted here:
- its queue host comes from FAL_QUEUE_RUN_HOST, read once at import; f1gen sets it from its
  own settings (so .env works too), still over https;
- it re-sends any request, a submit included, whose connection failed, even after the request
  went out: f1gen's transport turns a lost reply to a submit into ReplyLost, which fal-client
  does not retry, so that the ledger decides (look up, never resend blind).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import BadInputError, ConfigError
from ..settings import Setting
from . import Backend, ClipRequest, Factory, Probe, hosted
from .hosted import HOSTED_SETTINGS, Poll, ReplyLost, Submitted, sent_but_unanswered
from .models import OVI_720_5S
from .ovi_prompt import OVI_PROMPT
from .traits import FAL_PRICE, OVI_AUDIO_NEGATIVE, OVI_SPEC, OVI_VIDEO_NEGATIVE, Verdict

if TYPE_CHECKING:
    import fal_client

    from ..ledger import PaidRequest
    from ..settings import Settings

APP = "fal-ai/ovi/image-to-video"
DEFAULT_QUEUE_HOST = "queue.fal.run"
MAX_STEPS = 50  # the model's num_inference_steps accepts 1-50
LOCKED = ("exhausted balance", "insufficient", "top up")


@cache
def _client_type() -> type[fal_client.SyncClient]:
    """fal-client's SyncClient whose submits are never re-sent after a lost reply (made on first
    use: fal-client and httpx load only when fal is used)."""
    from functools import cached_property

    import fal_client
    import httpx
    from fal_client.client import USER_AGENT, BackupDomainTransport

    class NoBlindResend(httpx.BaseTransport):
        """Raises ReplyLost when a submit went out but no reply came (fal-client won't retry)."""

        def __init__(self, inner: httpx.BaseTransport) -> None:
            self.inner = inner

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            try:
                response = self.inner.handle_request(request)
                if request.method == "POST":
                    response.read()  # a reply cut short fails here, not later in fal-client
                return response
            except httpx.TransportError as exc:
                if request.method == "POST" and sent_but_unanswered(exc):
                    raise ReplyLost(f"{type(exc).__name__} after sending") from exc
                raise

        def close(self) -> None:
            self.inner.close()

    class Client(fal_client.SyncClient):
        @cached_property
        def _client(self) -> httpx.Client:
            return httpx.Client(
                transport=NoBlindResend(BackupDomainTransport()),
                headers={"Authorization": self._auth.header_value, "User-Agent": USER_AGENT},
                timeout=self.default_timeout,
                follow_redirects=True,
            )

    return Client


class FalProvider:
    """fal.ai's queue for Ovi image-to-video."""

    name = "fal"
    can_search = False

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.host = settings.text("fal_queue_host")
        self._client: fal_client.SyncClient | None = None

    @property
    def identity(self) -> str:
        """Clips depend on the model (and on the queue's host, for a stand-in)."""
        default = self.host == "queue.fal.run"
        return f"fal:{APP}" if default else f"fal:{self.host}/{APP}"

    def check(self) -> str:
        """A key must be configured (fal-client would otherwise look for a login file)."""
        if not self.settings.secret("fal_key"):
            raise ConfigError("no FAL_KEY set: add your fal.ai key (fal.ai/dashboard/keys) to .env")
        return f"FAL_KEY is set; requests go to {APP} at {self.host} (nothing was sent)"

    @property
    def client(self) -> fal_client.SyncClient:
        """The fal client, made on first use."""
        if self._client is None:
            import fal_client

            key = self.settings.secret("fal_key")
            assert key is not None
            # fal-client builds its queue URLs from this module constant (set from the
            # environment at import): point it at the configured host.
            fal_client.client.QUEUE_URL_FORMAT = f"https://{self.host}/"
            self._client = _client_type()(key=key.reveal(), default_timeout=60.0)
        return self._client

    def inputs(self, request: ClipRequest, *, seed: int | None) -> dict[str, Any]:
        """The model's input: prompt, the prepared image as a data URI, steps, negatives, seed."""
        if request.sample_steps > MAX_STEPS:
            raise BadInputError(
                f"{request.scene.label}.sample_steps: {request.sample_steps} is more than fal's "
                f"Ovi accepts (1-{MAX_STEPS}): lower it, or use another backend"
            )
        import fal_client

        inputs: dict[str, Any] = {
            "prompt": request.prompt,
            "image_url": fal_client.encode_file(request.image),  # uploads go to fixed hosts
            "num_inference_steps": request.sample_steps,
            "negative_prompt": OVI_VIDEO_NEGATIVE,
            "audio_negative_prompt": OVI_AUDIO_NEGATIVE,
        }
        if seed is not None:
            inputs["seed"] = seed
        return inputs

    def submit(self, inputs: Mapping[str, Any]) -> Submitted:
        """Queue one request."""
        handle = self.client.submit(APP, dict(inputs))
        return Submitted(
            handle.request_id,
            {"status_url": handle.status_url, "response_url": handle.response_url},
        )

    def poll(self, entry: PaidRequest) -> Poll:
        """The request's status; once completed, its result."""
        from fal_client.client import Completed, InProgress, Queued

        assert entry.request_id is not None
        status = self.client.status(APP, entry.request_id)
        if isinstance(status, Queued):
            return Poll("queued", position=status.position)
        if isinstance(status, InProgress):
            return Poll("running")
        assert isinstance(status, Completed)
        if status.error:
            kind = f" ({status.error_type})" if status.error_type else ""
            return Poll("failed", error=f"{status.error}{kind}")
        result = self.client.result(APP, entry.request_id)
        video = result.get("video") if isinstance(result, dict) else None
        url = video.get("url") if isinstance(video, dict) else None
        seconds = (status.metrics or {}).get("inference_time")
        return Poll(
            "succeeded",
            output=url if isinstance(url, str) else None,
            gpu_seconds=float(seconds) if isinstance(seconds, int | float) else None,
        )

    def find(self, entry: PaidRequest) -> Submitted | None:
        """fal's queue API has no search: never called (can_search is False)."""
        return None

    def cancel(self, entry: PaidRequest) -> None:
        """Cancel a queued request (fal only cancels what has not started)."""
        import fal_client
        import httpx

        if entry.request_id is None:
            return
        with contextlib.suppress(fal_client.FalClientError, httpx.HTTPError):
            self.client.cancel(APP, entry.request_id)

    def classify(self, exc: BaseException) -> Verdict | None:
        """fal's failure table."""
        return classify(exc)

    def describe(self, exc: BaseException) -> str:
        """One line: HTTP status and fal's own words (a 422 lists its fields)."""
        import fal_client

        if isinstance(exc, fal_client.FalClientHTTPError):
            return f"HTTP {exc.status_code}: {_message(exc)}"
        return " ".join(f"{type(exc).__name__}: {exc}".split())

    def fatal_message(self, exc: BaseException, detail: str) -> str:
        """What to fix."""
        import fal_client

        code = exc.status_code if isinstance(exc, fal_client.FalClientHTTPError) else None
        if code in (401, 403):
            return f"FAL_KEY was refused by fal ({detail}): check the key in .env"
        if code == 404:
            return f"fal does not know {APP} ({detail}): check FAL_QUEUE_RUN_HOST or update f1gen"
        if code == 422:
            return f"fal refused the input ({detail}): update f1gen or report it"
        return f"fal refused the request ({detail})"

    def quota_message(self, detail: str) -> str:
        """What to do when the balance is spent."""
        return (
            f"fal refuses work: the account's balance is used up ({detail}): top it up at "
            "fal.ai/dashboard/billing; the run is saved, re-run after"
        )

    def close(self) -> None:
        """Close the client's connections."""
        if self._client is not None and "_client" in vars(self._client):
            self._client._client.close()
        self._client = None


def classify(exc: BaseException) -> Verdict | None:
    """fal's failure table (client exceptions after fal-client's own retries)."""
    import fal_client
    import httpx

    if isinstance(exc, fal_client.FalClientHTTPError):
        code = exc.status_code
        text = _message(exc).lower()
        if code == 402 or (code == 403 and any(word in text for word in LOCKED)):
            return Verdict.QUOTA
        if code in (401, 403, 404):
            return Verdict.FATAL
        if code == 422:
            kinds = {e.get("type") for e in _details(exc)}
            return Verdict.FAILED_RUN if "content_policy_violation" in kinds else Verdict.FATAL
        if code in (408, 409, 429) or code >= 500:
            return Verdict.BUSY
        return Verdict.FATAL
    if isinstance(exc, fal_client.FalClientTimeoutError):
        return Verdict.BUSY
    if isinstance(exc, ReplyLost | httpx.TransportError | ConnectionError | TimeoutError):
        return Verdict.BUSY
    return None


def _details(exc: fal_client.FalClientHTTPError) -> list[dict[str, Any]]:
    message: Any = exc.message
    return [d for d in message if isinstance(d, dict)] if isinstance(message, list) else []


def _message(exc: fal_client.FalClientHTTPError) -> str:
    """fal's detail: a string, or (model errors, 422) a list of field problems."""
    message: Any = exc.message
    if isinstance(message, list):
        parts = []
        for item in message:
            if isinstance(item, dict):
                where = ".".join(str(p) for p in item.get("loc", []) if p != "body")
                parts.append(f"{where}: {item.get('msg', '')}" if where else str(item.get("msg")))
            else:
                parts.append(str(item))
        return "; ".join(parts)
    return " ".join(str(message).split())


def _build(settings: Settings, *, workdir: Path, parallel: int | None) -> list[Backend]:
    return hosted.lanes(
        FalProvider(settings), declared=FACTORY, settings=settings, workdir=workdir,
        parallel=parallel,
    )  # fmt: skip


def _checks(settings: Settings, *, scratch: Path) -> list[Probe]:
    return hosted.probes(FalProvider(settings))


FACTORY = Factory(
    name="fal",
    spec=OVI_SPEC,
    prompt=OVI_PROMPT,
    price=FAL_PRICE,
    failures=classify,
    default_parallel=8,
    accepts_seed=True,
    build=_build,
    checks=_checks,
    settings=(
        Setting("fal_key", env="FAL_KEY", secret=True),
        Setting("fal_queue_host", env="FAL_QUEUE_RUN_HOST", default=DEFAULT_QUEUE_HOST),
        *HOSTED_SETTINGS,
    ),
    models=(OVI_720_5S,),
)
