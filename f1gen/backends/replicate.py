"""Replicate through its `replicate` client: the only module that imports replicate.

Model `character-ai/ovi-i2v`, token REPLICATE_API_TOKEN, base URL REPLICATE_BASE_URL (plain
http allowed, for a local stand-in). A prediction is created without waiting (so its id is in
the ledger before f1gen waits for it), then polled by id. `replicate.run()` is not used: it
waits before handing out the id, and its FileOutput objects send the API token to whatever host
serves the output. The output URL is downloaded by hosted.py, with no token.

Replicate's client never retries a create, and a create whose reply was lost may still have
made a prediction: f1gen looks for a prediction of this model among the recent ones whose input
is the one it sent (prompt, image, seed...: each take sends its own seed, a random one when the
scene has none, so no two of a scene's requests send the same input).
"""

from __future__ import annotations

import base64
import contextlib
import mimetypes
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from ..settings import Setting
from . import Backend, ClipRequest, Factory, Probe, hosted
from .hosted import HOSTED_SETTINGS, Poll, Submitted
from .models import OVI_720_5S
from .ovi_prompt import OVI_PROMPT
from .traits import OVI_AUDIO_NEGATIVE, OVI_SPEC, OVI_VIDEO_NEGATIVE, REPLICATE_PRICE, Verdict

if TYPE_CHECKING:
    from replicate.client import Client

    from ..ledger import PaidRequest
    from ..settings import Settings

MODEL = "character-ai/ovi-i2v"
SEARCH_PAGES = 5
CLOCK_SKEW = timedelta(minutes=2)  # between this machine and Replicate's created_at


class ReplicateProvider:
    """Replicate's predictions API for Ovi image-to-video."""

    name = "replicate"
    can_search = True

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.base_url = settings.text("replicate_base_url") or None
        self._client: Client | None = None

    @property
    def identity(self) -> str:
        """Clips depend on the model (and on the API's address, for a stand-in)."""
        return f"replicate:{MODEL}" if not self.base_url else f"replicate:{self.base_url}/{MODEL}"

    def check(self) -> str:
        """A token must be configured."""
        if not self.settings.secret("replicate_token"):
            raise ConfigError(
                "no REPLICATE_API_TOKEN set: add your token (replicate.com/account/api-tokens) "
                "to .env"
            )
        where = self.base_url or "api.replicate.com"
        return f"REPLICATE_API_TOKEN is set; predictions of {MODEL} at {where} (nothing was sent)"

    @property
    def client(self) -> Client:
        """The Replicate client, made on first use."""
        if self._client is None:
            import httpx
            from replicate.client import Client

            token = self.settings.secret("replicate_token")
            assert token is not None
            self._client = Client(
                api_token=token.reveal(),
                base_url=self.base_url or None,
                timeout=httpx.Timeout(30.0, connect=10.0),
            )
        return self._client

    def inputs(self, request: ClipRequest, *, seed: int | None) -> dict[str, Any]:
        """The model's input: prompt, the prepared image as a data URI, seed, negatives."""
        mime = mimetypes.guess_type(request.image.name)[0] or "image/png"
        image = base64.b64encode(request.image.read_bytes()).decode("ascii")
        inputs: dict[str, Any] = {
            "prompt": request.prompt,
            "image": f"data:{mime};base64,{image}",
            "video_negative_prompt": OVI_VIDEO_NEGATIVE,
            "audio_negative_prompt": OVI_AUDIO_NEGATIVE,
        }
        if seed is not None:
            inputs["seed"] = seed
        return inputs

    def submit(self, inputs: Mapping[str, Any]) -> Submitted:
        """Create one prediction, without waiting for it."""
        prediction = self.client.models.predictions.create(model=MODEL, input=dict(inputs))
        return Submitted(prediction.id, {"get": str((prediction.urls or {}).get("get", ""))})

    def poll(self, entry: PaidRequest) -> Poll:
        """The prediction's state, its output URL and the GPU seconds it ran."""
        assert entry.request_id is not None
        prediction = self.client.predictions.get(entry.request_id)
        if prediction.status == "starting":
            return Poll("queued")
        if prediction.status == "processing":
            progress = prediction.progress
            return Poll("running", progress=progress.percentage if progress else None)
        if prediction.status in ("failed", "canceled"):
            return Poll("failed", error=_one_line(prediction.error or prediction.status))
        output = prediction.output
        if isinstance(output, list):
            output = output[0] if output else None
        seconds = (prediction.metrics or {}).get("predict_time")
        return Poll(
            "succeeded",
            output=output if isinstance(output, str) else None,
            gpu_seconds=float(seconds) if isinstance(seconds, int | float) else None,
        )

    def find(self, entry: PaidRequest) -> Submitted | None:
        """The newest prediction of this model, made since entry was sent, with its input."""
        since = datetime.fromisoformat(entry.since) - CLOCK_SKEW
        page = self.client.predictions.list()
        for _ in range(SEARCH_PAGES):
            for prediction in page:
                created = _when(prediction.created_at)
                if created is not None and created < since:
                    return None  # newest first: nothing older can be ours
                sent = prediction.input or {}
                if prediction.model == MODEL and hosted.sent_as(entry.marker, sent):
                    return Submitted(
                        prediction.id, {"get": str((prediction.urls or {}).get("get", ""))}
                    )
            if not page.next:
                return None
            page = self.client.predictions.list(page.next)
        return None

    def cancel(self, entry: PaidRequest) -> None:
        """Cancel a prediction (best effort)."""
        import httpx
        from replicate.exceptions import ReplicateError

        if entry.request_id is None:
            return
        with contextlib.suppress(ReplicateError, httpx.HTTPError):
            self.client.predictions.cancel(entry.request_id)

    def classify(self, exc: BaseException) -> Verdict | None:
        """Replicate's failure table."""
        return classify(exc)

    def describe(self, exc: BaseException) -> str:
        """One line: status, title and detail (ReplicateError's str() spans several lines)."""
        from replicate.exceptions import ModelError, ReplicateError

        if isinstance(exc, ReplicateError):
            words = ": ".join(str(p) for p in (exc.title, exc.detail) if p)
            return _one_line(f"HTTP {exc.status}: {words}")
        if isinstance(exc, ModelError):
            return _one_line(f"the model failed: {exc}")
        return _one_line(f"{type(exc).__name__}: {exc}")

    def fatal_message(self, exc: BaseException, detail: str) -> str:
        """What to fix."""
        from replicate.exceptions import ReplicateError

        status = exc.status if isinstance(exc, ReplicateError) else None
        if status in (401, 403):
            return f"REPLICATE_API_TOKEN was refused by Replicate ({detail}): check it in .env"
        if status == 404:
            return f"Replicate does not know {MODEL} ({detail}): check REPLICATE_BASE_URL"
        if status == 422:
            return f"Replicate refused the input ({detail}): update f1gen or report it"
        return f"Replicate refused the request ({detail})"

    def quota_message(self, detail: str) -> str:
        """What to do when the credit is spent."""
        return (
            f"Replicate refuses work: no credit left ({detail}): add credit at "
            "replicate.com/account/billing; the run is saved, re-run after"
        )

    def close(self) -> None:
        """Nothing to release beyond the client's pool (closed with the process)."""
        self._client = None


def classify(exc: BaseException) -> Verdict | None:
    """Replicate's failure table."""
    import httpx
    from replicate.exceptions import ModelError, ReplicateError

    if isinstance(exc, ReplicateError):
        status = exc.status or 0
        if status == 402:
            return Verdict.QUOTA
        if status in (429, 408) or status >= 500:
            return Verdict.BUSY
        return Verdict.FATAL
    if isinstance(exc, ModelError):
        return Verdict.FAILED_RUN
    if isinstance(exc, httpx.TransportError | ConnectionError | TimeoutError):
        return Verdict.BUSY
    return None


def _when(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _build(settings: Settings, *, workdir: Path, parallel: int | None) -> list[Backend]:
    return hosted.lanes(
        ReplicateProvider(settings), declared=FACTORY, settings=settings, workdir=workdir,
        parallel=parallel,
    )  # fmt: skip


def _checks(settings: Settings, *, scratch: Path) -> list[Probe]:
    return hosted.probes(ReplicateProvider(settings))


FACTORY = Factory(
    name="replicate",
    spec=OVI_SPEC,
    prompt=OVI_PROMPT,
    price=REPLICATE_PRICE,
    failures=classify,
    default_parallel=8,
    accepts_seed=True,
    build=_build,
    checks=_checks,
    settings=(
        Setting("replicate_token", env="REPLICATE_API_TOKEN", secret=True),
        Setting("replicate_base_url", env="REPLICATE_BASE_URL"),
        *HOSTED_SETTINGS,
    ),
    models=(OVI_720_5S,),
)
