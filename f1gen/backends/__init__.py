"""Clip backends: one small protocol, each backend an equal citizen behind it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..config import BACKENDS, Settings
from ..errors import BadInputError
from ..storyboard import Scene


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
    """How a clip's time was spent: waiting in a queue, the rest generating."""

    queue_seconds: float = 0.0
    cost_usd: float = 0.0  # what the provider charges for this clip


Report = Callable[[BackendUpdate], None]


class Backend(Protocol):
    """Makes one clip at a time from a ClipRequest."""

    name: str
    frame_size: tuple[int, int]

    @property
    def identity(self) -> str:
        """What makes two backends produce different clips (name and endpoint)."""
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


class Pool:
    """Several backends used at once, one clip in flight on each (several Ovi endpoints)."""

    def __init__(self, lanes: list[Backend]) -> None:
        if not lanes:
            raise BadInputError("no endpoints configured: set OVI_SPACE")
        self.lanes = lanes
        self.name = lanes[0].name
        self.frame_size = lanes[0].frame_size

    @property
    def identity(self) -> str:
        """The identity a scene no lane has made yet is planned under."""
        return self.lanes[0].identity

    def close(self) -> None:
        """Close every lane."""
        for lane in self.lanes:
            lane.close()


def make_backend(
    name: str, *, settings: Settings, workdir: Path, parallel: int | None = None
) -> Backend | Pool:
    """The backend called name, configured from settings (a Pool for several endpoints).

    parallel: clips in flight at once on a hosted or self-hosted backend (default: its own).
    """
    if name in ("fal", "replicate"):
        from ..ledger import Ledger
        from .hosted import HostedBackend, Provider

        if name == "fal":
            from .fal import FalProvider

            provider: Provider = FalProvider(settings)
        else:
            from .replicate import ReplicateProvider

            provider = ReplicateProvider(settings)
        hosted: Backend = HostedBackend(provider, settings=settings, ledger=Ledger(workdir))
        wide = parallel or provider.default_parallel
        return Pool([hosted] * wide) if wide > 1 else hosted  # one object, thread-safe
    if name == "ovi-app":
        from .ovi_app import OviAppBackend

        apps: list[Backend] = [
            OviAppBackend(settings=settings, download_dir=workdir / "tmp" / f"ovi-app-{index}")
            for index in range(parallel or 1)
        ]
        return Pool(apps) if len(apps) > 1 else apps[0]
    if name == "animatic":
        from .animatic import AnimaticBackend

        return AnimaticBackend(ffmpeg=settings.ffmpeg, scratch=workdir / "tmp")
    if name == "ovi":
        from .ovi_space import OviSpaceBackend

        endpoints = settings.endpoints
        if len(endpoints) == 1:  # its @NAME token too
            single: Backend = OviSpaceBackend(
                settings=settings.for_endpoint(endpoints[0]), download_dir=workdir / "tmp"
            )
            return single
        lanes: list[Backend] = [
            OviSpaceBackend(
                settings=settings.for_endpoint(endpoint),
                download_dir=workdir / "tmp" / f"lane-{index}",
            )
            for index, endpoint in enumerate(endpoints)
        ]
        return Pool(lanes)
    raise BadInputError(f"--backend {name!r} is unknown: use one of {', '.join(BACKENDS)}")
