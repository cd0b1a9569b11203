"""A self-hosted copy of Ovi's official gradio_app.py (character-ai/Ovi), on your own GPU.

Its one button is bound to `generate_video` with no api_name, so the endpoint is
`/generate_video`, and it takes more than the Space: frame height and width, seed, solver,
steps, shift, guidance, SLG layer and negative prompts. f1gen reads the parameters from the
server's API and sends those it knows and the server declares: the model's portrait frame, the
scene's seed, and Ovi's own defaults for the rest. The app prints any error and returns None:
that is a failed run, retried like any other.

The app serves one checkpoint, chosen when it starts (`model_name` in Ovi's inference config),
and its API does not say which: `--model`/OVI_MODEL names it (default 720x720_5s, Ovi 1.0's).
A clip whose size or length is not that model's stops the run (exit 3) before another is made.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import BackendBusy, BadInputError, ConfigError, F1genError, GenerationError
from ..settings import Setting
from . import Backend, BackendUpdate, ClipRequest, ClipTiming, Factory, Probe, Report, gradio_door
from .models import OVI_720_5S, OVI_MODELS, fitting
from .traits import OVI_AUDIO_NEGATIVE, OVI_VIDEO_NEGATIVE, OWN_GPU_PRICE, Verdict

if TYPE_CHECKING:
    from ..settings import Settings

T = TypeVar("T")
ENDPOINT = "/generate_video"
DEFAULT_URL = "http://127.0.0.1:7891/"  # where Ovi's gradio_app.py serves by default
REQUIRED = ("text_prompt", "image", "sample_steps")
SEED_MAX = 100_000  # the app's Video Seed field: 0-100000
SPEC = OVI_720_5S.spec  # without --model; the app keeps the image's aspect at its model's area
# What f1gen sends besides prompt, image, steps, seed and the model's frame (gradio_app.py's
# defaults).
FIXED: dict[str, Any] = {
    "solver_name": "unipc",
    "shift": 5.0,
    "video_guidance_scale": 4.0,
    "audio_guidance_scale": 3.0,
    "slg_layer": 11,
    "video_negative_prompt": OVI_VIDEO_NEGATIVE,
    "audio_negative_prompt": OVI_AUDIO_NEGATIVE,
}


class OviAppBackend:
    """Makes clips on a server running Ovi's gradio_app.py (OVI_APP_URL)."""

    name = "ovi-app"
    spec = SPEC

    def __init__(
        self,
        *,
        settings: Settings,
        download_dir: Path,
        poll_seconds: float = 0.5,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.settings = settings
        self.url = settings.text("ovi_app_url")
        self.model = FACTORY.chosen(None, settings)  # --model is in settings, beating OVI_MODEL
        self.spec = self.model.spec
        self.download_dir = download_dir.resolve()
        self.poll_seconds = poll_seconds
        self._client: gradio_door.Client | None = None
        self._send: tuple[str, ...] = ()
        self._interrupted = threading.Event()
        self._contacted = False  # tried once: from then on, a refused connection is busy
        self.sleep = sleep or self._pause
        self.waited = 0.0  # seconds of backoff in the clip being made

    def _pause(self, seconds: float) -> None:
        """A backoff's wait, cut short by Ctrl-C (interrupt)."""
        self._interrupted.wait(seconds)

    @property
    def identity(self) -> str:
        """Clips depend on which server made them, and with which model."""
        return FACTORY.identity(self.url, self.model)

    @property
    def account(self) -> str:
        """Your own GPU: no quota."""
        return "self-hosted"

    @property
    def sends(self) -> tuple[str, ...]:
        """The parameters sent (after prepare: those the server declares)."""
        return self._send

    def prepare(self, report: Report) -> None:
        """Connect and check the server's API before the first clip."""
        if self._client is None:
            self._client = self._with_backoff(self._connect, report)
            self.check_api(gradio_door.api(self._client))

    def check_api(self, endpoints: dict[str, dict[str, dict[str, Any]]]) -> None:
        """Stop with exit 3 unless /generate_video takes what f1gen needs."""
        if ENDPOINT not in endpoints:
            offered = ", ".join(sorted(endpoints)) or "no named endpoints"
            raise ConfigError(
                f"{self.url} has no {ENDPOINT} endpoint (it offers: {offered}): is it Ovi's "
                "gradio_app.py? check OVI_APP_URL"
            )
        self._send = gradio_door.parameters_to_send(
            endpoints[ENDPOINT],
            required=REQUIRED,
            optional=("video_seed", "video_frame_height", "video_frame_width", *FIXED),
            where=f"{ENDPOINT} on {self.url}",
            fix="check OVI_APP_URL or update f1gen",
        )

    def interrupt(self) -> None:
        """Cancel the job being followed at its next poll."""
        self._interrupted.set()

    def close(self) -> None:
        """Close the client's connections."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def generate(self, request: ClipRequest, dest: Path, report: Report) -> ClipTiming:
        """Submit the scene with the app's full parameters, follow it, move the clip to dest."""
        if request.seed is not None and request.seed > SEED_MAX:
            raise BadInputError(
                f"{request.scene.label}.seed: {request.seed} is above {SEED_MAX}, the most "
                "Ovi's app takes: use a smaller seed"
            )
        self.waited = 0.0
        self.prepare(report)
        arguments: dict[str, Any] = {
            **FIXED,
            "video_frame_height": self.spec.size[1],
            "video_frame_width": self.spec.size[0],
            "text_prompt": request.prompt,
            "image": gradio_door.handle_file(str(request.image)),
            "sample_steps": request.sample_steps,
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
            )

        result, queue_seconds = self._with_backoff(attempt, report)
        gradio_door.take(result, dest, download_dir=self.download_dir, what="the Ovi app")
        self.check_model(dest)
        return ClipTiming(queue_seconds=queue_seconds, backoff_seconds=self.waited)

    def check_model(self, clip: Path) -> None:
        """ConfigError when clip, which reads, is not the size or length of the model named: the
        app serves another checkpoint, and every clip would be the same (a clip that does not
        read is left to the clip checks: a failed attempt)."""
        from .. import media

        try:
            video = media.probe(clip).video
        except BadInputError:
            return
        if video is None:
            return
        size, seconds = (video.width, video.height), video.duration
        low, high = self.spec.window
        if size == self.spec.size and low <= seconds <= high:
            return
        guess = fitting(*size, seconds, sent=self.spec.size)
        if size == self.spec.size and guess is None:
            return  # the model's frame, but cut short: the clip checks judge it
        seen = f"made a {size[0]}x{size[1]} clip of {seconds:.2f} s"
        named = f"not what {self.model.name} makes ({self.model.clip_text})"
        if guess is not None:
            fix = f"it serves {guess.name}: re-run with --model {guess.name} (or OVI_MODEL)"
        else:
            fix = f"re-run with the --model (or OVI_MODEL) it serves: {_names()}"
        raise ConfigError(f"the Ovi app at {self.url} {seen}, {named}: {fix}")

    def _connect(self) -> gradio_door.Client:
        """A client for the app; nothing listening at the first try is a mistake to fix (exit 3),
        not a busy app: busy is for an app that has answered."""
        contacted, self._contacted = self._contacted, True
        try:
            return gradio_door.connect(self.url, token=None, download_dir=self.download_dir)
        except Exception as exc:
            if not contacted and gradio_door.nothing_listens(exc):
                raise ConfigError(
                    f"nothing answers at {self.url} (connection refused): start Ovi's app there "
                    "(python gradio_app.py) or fix OVI_APP_URL"
                ) from None
            raise

    def _with_backoff(self, call: Callable[[], T], report: Report) -> T:
        """Run call; retry busy failures with the Gradio door's backoff; map every failure."""

        def waiting(error: BaseException, attempt: int, wait: float) -> None:
            detail = self.settings.redact(gradio_door.describe(error))
            self.waited += wait  # backoff, not generation: reported as wait time
            # Ctrl-C ends the wait, and the next attempt sends nothing.
            report(
                BackendUpdate(
                    f"the Ovi app is busy ({detail}); retry in {wait:.0f} s", notable=True
                )
            )

        policy = gradio_door.RetryPolicy(self.settings.busy_retries, self.settings.backoff_seconds)
        try:
            return gradio_door.with_backoff(
                call,
                policy=policy,
                busy=lambda e: gradio_door.classify(e) is Verdict.BUSY,
                sleep=self.sleep,
                waiting=waiting,
            )
        except F1genError:
            raise
        except Exception as exc:
            raise self._translate(exc) from None

    def _translate(self, exc: Exception) -> Exception:
        """What a failure that was not waited out is, for the run."""
        verdict = gradio_door.classify(exc)
        detail = self.settings.redact(gradio_door.describe(exc))
        if verdict is Verdict.BUSY:
            return BackendBusy(
                f"the Ovi app at {self.url} stayed busy or unreachable ({detail}): "
                "the run is saved; start the app (python gradio_app.py) and re-run",
                last=detail,
            )
        if verdict in (Verdict.FAILED_RUN, Verdict.QUOTA):
            return GenerationError(detail)
        if verdict is Verdict.FATAL:
            return ConfigError(
                f"the Ovi app at {self.url} refused the call ({detail}): check OVI_APP_URL"
            )
        return exc


def _names() -> str:
    return ", ".join(model.name for model in OVI_MODELS)


def _build(settings: Settings, *, workdir: Path, parallel: int | None) -> list[Backend]:
    """One lane per clip in flight (the app queues them; one at a time unless it was started
    with more workers)."""
    return [
        OviAppBackend(settings=settings, download_dir=workdir / "tmp" / f"ovi-app-{index}")
        for index in range(parallel or FACTORY.default_parallel)
    ]


def _checks(settings: Settings, *, scratch: Path) -> list[Probe]:
    """The app answers at OVI_APP_URL and its API takes what f1gen sends (one try)."""

    def app() -> str:
        backend = OviAppBackend(settings=replace(settings, busy_retries=1), download_dir=scratch)
        try:
            backend.prepare(lambda update: None)
            return (
                f"{backend.url}: {ENDPOINT} takes {', '.join(backend.sends)}; clips of "
                f"{backend.model.name} expected (OVI_MODEL): the app does not say which model "
                "it serves"
            )
        except BackendBusy as exc:
            raise BackendBusy(
                f"{backend.url} is busy or unreachable: {exc.last}: start the app "
                "(python gradio_app.py) or check OVI_APP_URL"
            ) from None
        finally:
            backend.close()

    return [Probe("ovi-app", app)]


FACTORY = Factory(
    name="ovi-app",
    spec=SPEC,
    prompt=OVI_720_5S.prompt,
    price=OWN_GPU_PRICE,
    failures=gradio_door.classify,
    default_parallel=1,
    accepts_seed=True,
    build=_build,
    checks=_checks,
    settings=(
        Setting("ovi_app_url", env="OVI_APP_URL", default=DEFAULT_URL),
        Setting("ovi_model", env="OVI_MODEL"),  # --model: the checkpoint the app serves
    ),
    models=OVI_MODELS,
    model_setting="ovi_model",
)
