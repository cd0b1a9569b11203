"""A run with one take of each kind, for tests of the review page."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from f1gen import storyboard as storyboards
from f1gen.runner import Runner, RunOptions
from tests.support.images import draw_portrait
from tests.support.scripted import ScriptedBackend, failing
from tests.support.seaweedfs import PUBLIC_BUCKET, WRITER, SeaweedFS
from tests.support.takes import fixture_scene, make_take, speech_fixture

BUCKET = PUBLIC_BUCKET
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
    with contextlib.chdir(folder):  # the project folder: a copy of it is the same project
        Runner(loaded, workdir=workdir, lanes=[backend], emit=lambda event: None).run(
            RunOptions(max_attempts=1)
        )
    return board, workdir


def make_takes_run(folder: Path) -> tuple[Path, Path]:
    """A storyboard of three scenes of the fixture line made with two takes each, checked in the
    run: the prompt read aloud then the line (the second picked), a silent take rejected and made
    again, the line then the prompt read aloud. Returns (storyboard, workdir)."""
    scene = fixture_scene()
    draw_portrait(folder / "images" / "p.png")
    made = folder / "takes"
    made.mkdir(exist_ok=True)
    line, aloud, mute = (
        make_take(made / f"{name}.mp4", sound=speech_fixture(name), size=(576, 896))
        for name in ("line", "prompt", "silence")
    )
    base = {"image": "images/p.png", "action": scene["action"], "atmosphere": scene["atmosphere"],
            "speech": scene["line"]}  # fmt: skip
    scenes = [{"id": name, **base} for name in ("aloud", "mute", "spoken")]
    board = folder / "takes.yaml"
    board.write_text(
        yaml.safe_dump({"title": "Takes", "scenes": scenes}, sort_keys=False), encoding="utf-8"
    )
    loaded = storyboards.load(board).storyboard
    workdir = folder / "out" / "takes"
    # One lane: each scene's first take in turn (a rejected one made again at once), then the
    # second takes.
    order = [aloud, mute, line, line, line, line, aloud]
    backend = ScriptedBackend([_copy(clip) for clip in order])
    with contextlib.chdir(folder), pytest.MonkeyPatch.context() as patch:
        patch.setattr("f1gen.runner.judges", lambda lane: True)  # judge the scripted lane too
        Runner(loaded, workdir=workdir, lanes=[backend], emit=lambda event: None).run(
            RunOptions(takes=2, default_seed=5)
        )
    return board, workdir


@contextmanager
def serve_bucket(
    server: SeaweedFS, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[str]:
    """The real S3 server's public bucket, empty, with f1gen pointed at it; its URL."""
    server.empty()
    for name, value in {
        "AWS_ACCESS_KEY_ID": WRITER.access_key,
        "AWS_SECRET_ACCESS_KEY": WRITER.secret_key,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
        "F1GEN_S3_ENDPOINT": server.url,
        "F1GEN_BUCKET": BUCKET,
        "F1GEN_PUBLIC_URL": f"{server.url}/{BUCKET}",
    }.items():
        monkeypatch.setenv(name, value)
    server.client().create_bucket(Bucket=BUCKET)
    try:
        yield server.url
    finally:
        server.empty()
