"""Clip backends: one small protocol, and a registry of factories by name.

Every backend, the default included, is one module and one line in REGISTRY. The module declares
what varies per backend in its FACTORY: the clips it makes (ClipSpec), its prompt format, its
price, its failure table, how many clips it keeps in flight, whether it takes a seed, how it is
built (a list of lanes: one per endpoint, or one object shared by N lanes of a hosted queue), and
what `f1gen doctor` checks. The registry and the declarations import no client library: those
load only when a backend is built or checked.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from ..clipspec import ClipSpec
from ..errors import BadInputError, ConfigError
from .models import Model
from .traits import PriceModel, PromptBuilder, Verdict

if TYPE_CHECKING:
    from ..scene import Scene
    from ..settings import Setting, Settings

# The registry: a backend's name and the module whose FACTORY builds it, in the order help and
# the dry run's comparison show them. A new backend is its module and one line here.
REGISTRY: dict[str, str] = {
    "ovi": ".ovi_space",
    "animatic": ".animatic",
    "fal": ".fal",
    "replicate": ".replicate",
    "ovi-app": ".ovi_app",
}
DEFAULT = "ovi"  # what `generate` and `doctor` use without --backend


@dataclass(frozen=True)
class ClipRequest:
    """What a backend needs to make one scene's clip."""

    scene: Scene
    prompt: str
    image: Path
    sample_steps: int
    fingerprint: str = ""  # the clip's fingerprint: hosted backends key paid requests by it
    seed: int | None = None  # sent only by backends that declare they accept one


@dataclass(frozen=True)
class BackendUpdate:
    """Progress a backend reports while it works on a clip.

    notable updates (a retry, a wait) are worth a log line; the rest only refresh a live bar.
    """

    message: str
    fraction: float | None = None
    notable: bool = False


@dataclass(frozen=True)
class ClipTiming:
    """How a clip's time was spent: waiting in a queue, backing off from a busy or unreachable
    backend, the rest generating."""

    queue_seconds: float = 0.0
    cost_usd: float = 0.0  # what the provider charges for this clip
    backoff_seconds: float = 0.0  # waits before retrying a busy or unreachable backend


Report = Callable[[BackendUpdate], None]
Derive = Callable[
    [Mapping[str, str], Mapping[str, object], Mapping[str, object]], dict[str, object]
]


class Backend(Protocol):
    """One lane: makes one clip at a time from a ClipRequest."""

    name: str
    spec: ClipSpec

    @property
    def identity(self) -> str:
        """What makes two backends produce different clips: the registry name, a colon, and
        the endpoint or model ('ovi:alexnasa/Ovi-ZEROGPU', 'animatic:1')."""
        ...

    @property
    def account(self) -> str:
        """Whose quota the clips are made on ('anonymous', a token's short digest, 'local')."""
        ...

    def prepare(self, report: Report) -> None:
        """Check the backend can work before anything is spent; raise F1genError if not."""
        ...

    def generate(self, request: ClipRequest, dest: Path, report: Report) -> ClipTiming:
        """Write the clip for request to dest (an .mp4 path that does not exist yet)."""
        ...

    def close(self) -> None:
        """Release connections and temporary files."""
        ...

    def interrupt(self) -> None:
        """Give up the clip in progress soon (called from another thread on Ctrl-C)."""
        ...


@dataclass(frozen=True)
class Probe:
    """One line of `f1gen doctor`: run returns what was found, or raises F1genError naming the
    fix. Nothing it does may cost money or quota."""

    name: str
    run: Callable[[], str]


class Build(Protocol):
    """Makes a backend's lanes from the settings (a client library may load now)."""

    def __call__(self, settings: Settings, *, workdir: Path, parallel: int | None) -> list[Backend]:
        """The lanes; parallel: clips in flight at once where the backend can widen."""
        ...


class Checks(Protocol):
    """What `f1gen doctor` checks for a backend, one Probe per line."""

    def __call__(self, settings: Settings, *, scratch: Path) -> list[Probe]:
        """The probes (making them spends nothing; F1genError when there is nothing to probe)."""
        ...


@dataclass(frozen=True)
class Factory:
    """A registered backend: what it declares about itself, how it is built and checked."""

    name: str
    spec: ClipSpec
    prompt: PromptBuilder
    price: PriceModel
    failures: Callable[[BaseException], Verdict | None]  # its failure table (None: a bug)
    default_parallel: int  # clips in flight without --parallel (per endpoint for the Space)
    accepts_seed: bool
    build: Build
    checks: Checks
    # Whether its clips carry a real voice and picture that the take checks can judge.
    judged: Callable[[Backend], bool] = lambda lane: True
    # Whether its picture moves of itself; False: a still image it moves (the animatic's zoom),
    # which the frozen check cannot judge (a flat card under a zoom stays pixel for pixel still).
    moves: bool = True
    runs_on: Literal["gpu", "cpu"] = "gpu"  # "cpu": rendered on this machine, no GPU time
    # What a run on it should know before it starts (the Space: no token, a small quota).
    notices: Callable[[Settings], tuple[str, ...]] = lambda settings: ()
    # What it reads from options and the environment (config gathers them: its key, its
    # address), and what it works out from them (the Space: the endpoint list's tokens).
    settings: tuple[Setting, ...] = ()
    derived: Derive = lambda env, options, values: {}
    # The models it serves (models.py), the one it makes without --model first; spec and prompt
    # are the first's. None declared: one model, its spec and prompt.
    models: tuple[Model, ...] = ()
    model_setting: str | None = None  # the declared setting naming the model (ovi-app: OVI_MODEL)
    # Whether its clips show their line as a caption already: none is burned over them.
    captioned: bool = False

    @property
    def served(self) -> tuple[Model, ...]:
        """The models it serves, the default first."""
        return self.models or (Model(self.name, self.spec, self.prompt),)

    def model(self, name: str | None) -> Model:
        """The model called name (None: the default); BadInputError naming the choices."""
        if name is None:
            return self.served[0]
        for model in self.served:
            if model.name == name:
                return model
        names = [model.name for model in self.served]
        if len(names) == 1:
            raise BadInputError(
                f"--model {name!r}: --backend {self.name} serves {names[0]} only: leave --model "
                "out, or choose a backend that serves it (ovi-app)"
            )
        raise BadInputError(
            f"--model {name!r} is unknown for --backend {self.name}: use one of {', '.join(names)}"
        )

    def chosen(self, option: str | None, settings: Settings) -> Model:
        """The model a run makes clips with: --model (exit 2 when not served), else its
        model_setting (exit 3 when not served), else the default."""
        if option is not None:
            return self.model(option)
        named = settings.text(self.model_setting) if self.model_setting else ""
        if not named:
            return self.served[0]
        try:
            return self.model(named)
        except BadInputError:
            source = next(s.env for s in self.settings if s.name == self.model_setting)
            names = ", ".join(model.name for model in self.served)
            raise ConfigError(
                f"{source}={named!r} is not a model --backend {self.name} serves: use one of "
                f"{names}"
            ) from None

    def identity(self, endpoint: str, model: Model) -> str:
        """A lane's identity: 'name:endpoint', with '/model' after the name unless it is the
        default model (so clips made before models were named keep their fingerprints)."""
        tag = "" if model == self.served[0] else f"/{model.name}"
        return f"{self.name}{tag}:{endpoint}"


def judges(lane: Backend) -> bool:
    """True when lane's clips can be judged by the take checks (a backend not registered, such
    as a test's scripted one, is not judged)."""
    return lane.name in REGISTRY and factory(lane.name).judged(lane)


def renders_locally(lane: Backend) -> bool:
    """True when lane renders on this machine's CPU: its time is not GPU time."""
    return lane.name in REGISTRY and factory(lane.name).runs_on == "cpu"


def factory(name: str) -> Factory:
    """The registered backend called name; BadInputError naming the choices if there is none."""
    if name not in REGISTRY:
        raise BadInputError(f"--backend {name!r} is unknown: use one of {', '.join(REGISTRY)}")
    return _load(name)


@cache
def _load(name: str) -> Factory:
    made = importlib.import_module(REGISTRY[name], __name__).FACTORY
    assert isinstance(made, Factory) and made.name == name, f"{REGISTRY[name]}: FACTORY"
    return made


def factories() -> list[Factory]:
    """Every registered backend, in the registry's order."""
    return [factory(name) for name in REGISTRY]


def build_lanes(
    name: str, *, settings: Settings, workdir: Path, parallel: int | None = None
) -> list[Backend]:
    """The lanes of the backend called name: one per endpoint, or N sharing a hosted queue."""
    return factory(name).build(settings, workdir=workdir, parallel=parallel)


def close_lanes(lanes: Sequence[Backend]) -> None:
    """Close every lane once (the lanes of a hosted queue are one object)."""
    closed: set[int] = set()
    for lane in lanes:
        if id(lane) not in closed:
            closed.add(id(lane))
            lane.close()


def made_by(identity: str | None) -> tuple[Factory, Model]:
    """The backend and model an identity ('ovi:...', 'ovi-app/960x960_10s:...') or a registry
    name belongs to; the default backend's when it is none or not registered (a test's scripted
    backend), its default model when the model is not one it serves."""
    head = (identity or "").partition(":")[0]
    name, _, model = head.partition("/")
    made = factory(name if name in REGISTRY else DEFAULT)
    found = next((m for m in made.served if m.name == model), made.served[0])
    return made, found


def prompt_for(identity: str | None) -> PromptBuilder:
    """The prompt format of the model an identity belongs to (the default's when unknown)."""
    return made_by(identity)[1].prompt


def picture_moves(identity: str | None) -> bool:
    """False when the backend an identity belongs to moves a still image itself (the animatic)."""
    return made_by(identity)[0].moves


def spec_of(identity: str | None) -> ClipSpec:
    """The clips of the model an identity or a name belongs to: the default backend's when it
    is none (footage alone) or not registered."""
    return made_by(identity)[1].spec


def shows_captions(identity: str | None) -> bool:
    """True when the clips of the backend an identity belongs to show their line as a caption
    in the picture (the animatic's): the stitch burns none over them."""
    return identity is not None and made_by(identity)[0].captioned


def reserved_tokens() -> list[tuple[str, re.Pattern[str]]]:
    """Every registered model's prompt format's control tokens, with whose they are: user text
    may use none of them, since a storyboard may be made on any backend and model."""
    found: dict[str, tuple[str, re.Pattern[str]]] = {}
    for made in factories():
        for prompt in (made.prompt, *(model.prompt for model in made.served)):
            found.setdefault(prompt.reserved.pattern, (prompt.family, prompt.reserved))
    return list(found.values())
