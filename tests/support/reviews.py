"""A run with one take of each kind, for tests of the review page."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from f1gen import storyboard as storyboards
from f1gen.runner import Runner, RunOptions
from tests.support.images import draw_portrait
from tests.support.scripted import ScriptedBackend, failing
from tests.support.takes import fixture_scene, make_take, speech_fixture

HOSTILE = 'Tom & Jerry say <script>alert("x")</script> "hi"'


def _copy(source: Path) -> Callable[[Path], None]:
    return lambda dest: shutil.copyfile(source, dest)


def make_run(folder: Path) -> tuple[Path, Path]:
    """A storyboard and its work folder: a good take, a silent one, a hostile line, footage, a
    failed scene. Returns (storyboard, workdir)."""
    scene = fixture_scene()
    draw_portrait(folder / "images" / "p.png")
    takes = folder / "takes"
    takes.mkdir(exist_ok=True)
    line = make_take(takes / "line.mp4", sound=speech_fixture("line"), size=(576, 896))
    mute = make_take(takes / "mute.mp4", sound=speech_fixture("silence"), size=(576, 896))
    make_take(folder / "garage.mp4", sound="anullsrc", size=(288, 448))
    base = {"image": "images/p.png", "action": scene["action"], "atmosphere": scene["atmosphere"]}
    scenes: list[dict[str, Any]] = [
        {"id": "good", **base, "speech": scene["line"]},
        {"id": "mute", **base, "speech": scene["line"]},
        {"id": "hostile", **base, "speech": HOSTILE},
        {"id": "garage", "footage": "garage.mp4"},
        {"id": "broken", **base, "speech": "Never made."},
    ]
    board = folder / "review.yaml"
    board.write_text(
        yaml.safe_dump({"title": "Review <b>&</b> test", "scenes": scenes}, sort_keys=False),
        encoding="utf-8",
    )
    loaded = storyboards.load(board).storyboard
    workdir = folder / "out" / "review"
    backend = ScriptedBackend([_copy(line), _copy(mute), _copy(line), failing("the Space said no")])
    Runner(loaded, workdir=workdir, backend=backend, emit=lambda event: None).run(
        RunOptions(max_attempts=1)
    )
    return board, workdir
