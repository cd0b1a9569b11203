"""A backend that is not Ovi, written the way a new backend is: one module with its FACTORY,
registered by one line (the tests add it to f1gen.backends.REGISTRY with monkeypatch).

Its clips are 2-second 480x832 marker clips and its prompt format wraps text in [[...]]: nothing
Ovi-shaped, so a test sees whether the clip checks, the image preparation, the prompt and the
storyboard lint follow what the backend declares. CALLS records what each clip was asked with.
It brings its own key (ECHO_KEY), declared here alone: config.py never learns of it.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from PIL import Image

from f1gen.backends import Backend, ClipRequest, ClipTiming, Factory, Probe, Report
from f1gen.backends.traits import FREE_PRICE
from f1gen.clipspec import ClipSpec
from f1gen.errors import ConfigError
from f1gen.scene import Scene
from f1gen.settings import Setting, Settings
from tests.support import mediatools

SPEC = ClipSpec(
    size=(480, 832), fps=24, frames=(48,), window=(1.5, 2.5), sample_rates=(16_000,), channels=(1,)
)
CALLS: list[dict[str, Any]] = []


class EchoPrompt:
    """Text in double brackets; a user's own brackets would break it."""

    family = "Echo"
    reserved = re.compile(r"\[\[|\]\]")

    def build(self, scene: Scene) -> str:
        said = f" says [[{scene.speech}]]" if scene.speech else ""
        return f"[[{scene.action}]]{said}"


class EchoBackend:
    """Answers every request with a copy of one 2 s marker clip of its own size."""

    name = "echo"
    spec = SPEC

    def __init__(self, scratch: Path) -> None:
        self.scratch = scratch

    @property
    def identity(self) -> str:
        return "echo:1"

    @property
    def account(self) -> str:
        return "local"

    def prepare(self, report: Report) -> None:
        pass

    def close(self) -> None:
        pass

    def interrupt(self) -> None:
        pass

    def generate(self, request: ClipRequest, dest: Path, report: Report) -> ClipTiming:
        with Image.open(request.image) as image:
            CALLS.append({"prompt": request.prompt, "image_size": image.size})
        source = self.scratch / "echo.mp4"
        if not source.exists():
            self.scratch.mkdir(parents=True, exist_ok=True)
            mediatools.make_marker_clip(source, marker_frame=12, size=SPEC.size, frames=48)
        shutil.copyfile(source, dest)
        return ClipTiming()


def _build(settings: Settings, *, workdir: Path, parallel: int | None) -> list[Backend]:
    return [EchoBackend(workdir / "echo")]


def _checks(settings: Settings, *, scratch: Path) -> list[Probe]:
    return [Probe("echo", lambda: "answers every request"), Probe("key", lambda: _key(settings))]


def _key(settings: Settings) -> str:
    key = settings.secret("echo_key")
    if not key:
        raise ConfigError("no ECHO_KEY set: add your echo key to .env")
    return f"ECHO_KEY is set: {key.reveal()}"  # doctor redacts every declared secret


FACTORY = Factory(
    name="echo",
    spec=SPEC,
    prompt=EchoPrompt(),
    price=FREE_PRICE,
    failures=lambda exc: None,
    default_parallel=1,
    accepts_seed=False,
    build=_build,
    checks=_checks,
    settings=(Setting("echo_key", env="ECHO_KEY", secret=True),),
)
