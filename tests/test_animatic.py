"""The offline animatic judged like any backend: flat images under its zoom, and its seeds."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from PIL import Image, ImageDraw

from f1gen import backends, images
from f1gen import storyboard as storyboards
from f1gen.backends import ClipRequest, build_lanes
from f1gen.backends.traits import OVI_SPEC
from f1gen.config import Settings
from f1gen.files import file_digest
from f1gen.runner import Runner, RunOptions
from f1gen.state import StateStore

needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None,
    reason="espeak-ng is not on PATH: the animatic speaks in tones, which are not judged",
)


def flat_board(folder: Path) -> Path:
    """Scenes over flat pictures: a two-colour card, a logo on white, a title card."""
    images = folder / "images"
    images.mkdir(parents=True)
    card = Image.new("RGB", (720, 1080), (200, 30, 30))
    ImageDraw.Draw(card).rectangle((0, 540, 720, 1080), fill=(20, 20, 120))
    card.save(images / "card.png")
    logo = Image.new("RGB", (720, 1080), "white")
    ImageDraw.Draw(logo).ellipse((260, 440, 460, 640), fill=(220, 0, 0))
    logo.save(images / "logo.png")
    title = Image.new("RGB", (720, 1080), (10, 10, 40))
    ImageDraw.Draw(title).text((300, 520), "SEASON FINALE", fill="white")
    title.save(images / "title.png")
    data = {
        "title": "Flat",
        "scenes": [
            {"id": "card", "image": "images/card.png", "action": "A card. He says",
             "speech": "Welcome back to the show everyone."},
            {"id": "logo", "image": "images/logo.png", "action": "The team logo."},
            {"id": "title", "image": "images/title.png", "action": "A title card. She says",
             "speech": "The season finale starts now."},
        ],
    }  # fmt: skip
    path = folder / "flat.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_the_animatic_declares_its_motion_its_own() -> None:
    assert backends.picture_moves("animatic:1") is False
    assert backends.picture_moves("ovi:https://example.hf.space") is True


@needs_espeak
def test_flat_pictures_under_the_zoom_are_judged_and_none_is_a_still(tmp_path: Path) -> None:
    board = storyboards.load(flat_board(tmp_path)).storyboard
    workdir = tmp_path / "out"
    lanes = build_lanes("animatic", settings=Settings(), workdir=workdir)
    summary = Runner(board, workdir=workdir, lanes=lanes).run(RunOptions(max_attempts=1))
    assert summary.failed == []
    state = StateStore(workdir).load(storyboard=str(board.path), title=board.title)
    for scene_id in ("card", "logo", "title"):
        (take,) = state.scenes[scene_id].takes
        assert take.checks is not None and "still" not in take.checks
        assert not take.rejected


def _render(tmp_path: Path, seed: int | None, name: str) -> str:
    board = storyboards.load(flat_board(tmp_path / name)).storyboard
    scene = board.scenes[2]  # the title card, with a line
    image = images.prepare(scene.image, fit=scene.fit, size=OVI_SPEC.size, cache_dir=tmp_path)
    (lane,) = build_lanes("animatic", settings=Settings(), workdir=tmp_path / name / "out")
    dest = tmp_path / f"{name}.mp4"
    request = ClipRequest(scene, "p", image, 40, seed=seed)
    lane.generate(request, dest, lambda update: None)
    return file_digest(dest)


def test_the_seed_varies_the_clip_and_the_same_seed_makes_the_same_clip(tmp_path: Path) -> None:
    seven, again, eight, own = (
        _render(tmp_path, seed, name) for seed, name in ((7, "a"), (7, "b"), (8, "c"), (None, "d"))
    )
    assert seven == again
    assert len({seven, eight, own}) == 3


def test_takes_of_the_animatic_differ(tmp_path: Path) -> None:
    board = storyboards.load(flat_board(tmp_path)).storyboard
    workdir = tmp_path / "out"
    lanes = build_lanes("animatic", settings=Settings(), workdir=workdir)
    Runner(board, workdir=workdir, lanes=lanes).run(
        RunOptions(only=frozenset({2}), takes=2, checks=False)
    )
    state = StateStore(workdir).load(storyboard=str(board.path), title=board.title)
    takes = state.scenes["logo"].takes
    assert [t.seed is None for t in takes] == [True, False]  # the animatic's own, then derived
    assert len({t.sha256 for t in takes}) == 2
