"""f1gen review: one self-contained page with every scene's takes, checks and pick."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from PIL import Image

from f1gen import storyboard as storyboards
from f1gen.checks import CHECKS_VERSION, TakeChecks, check_take
from f1gen.review import build_page, write_review
from tests.support.reviews import BUCKET, HOSTILE, make_run, make_takes_run, serve_bucket
from tests.support.seaweedfs import SeaweedFS

EMPTY_ICON = '<link rel="icon" href="data:,">'


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_run(tmp_path_factory.mktemp("run"))


@pytest.fixture
def run(
    made: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, Path]:
    """A fresh copy of the project for each test, worked on from its folder."""
    board, workdir = made
    folder = shutil.copytree(board.parent, tmp_path / "run")
    monkeypatch.chdir(folder)
    return folder / board.name, folder / workdir.relative_to(board.parent)


def test_the_page_has_every_scene_its_take_checks_and_pick(run: tuple[Path, Path]) -> None:
    board, workdir = run
    result = write_review(storyboards.load(board).storyboard, workdir=workdir)

    scenes = {s.id: s for s in result.page.scenes}
    assert [(s.number, s.status, len(s.takes)) for s in result.page.scenes] == [
        (1, "done", 1), (2, "done", 1), (3, "done", 1), (4, "footage", 0), (5, "failed", 0)
    ]  # fmt: skip
    good, mute = scenes["good"].takes[0], scenes["mute"].takes[0]
    assert good.path == f"clips/{good.name}" and good.picked
    assert good.checks is not None and good.checks.worst == "pass"
    assert scenes["good"].reason == "the only take: passes every check"
    assert mute.checks is not None and mute.checks.rejected
    assert scenes["mute"].reason == (
        "no usable take: every take failed a hard check; the only take: fails speech"
    )
    assert result.path == workdir / "review.html"
    assert result.side_files[0] == workdir / "review-sheet.png"
    html = result.path.read_text(encoding="utf-8")
    assert html.count("<video ") == 3
    assert html.count('<tr class="check ') == sum(
        len(t.checks.checks) for s in result.page.scenes for t in s.takes if t.checks
    )
    assert "no speech, but the scene has a line" in html
    assert "footage: cut in as it is, not checked" in html
    assert "no take yet" in html
    assert '<img src="review-sheet.png"' in html


def test_every_text_from_the_storyboard_is_escaped(run: tuple[Path, Path]) -> None:
    board, workdir = run
    html = write_review(storyboards.load(board).storyboard, workdir=workdir).path.read_text()
    assert "<script" not in html and "<b>&" not in html
    assert "Tom &amp; Jerry say &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "<title>Review: Review &lt;b&gt;&amp;&lt;/b&gt; test</title>" in html
    assert HOSTILE not in html


def test_the_page_is_self_contained_with_relative_links_only(run: tuple[Path, Path]) -> None:
    board, workdir = run
    page = write_review(storyboards.load(board).storyboard, workdir=workdir).path
    html = page.read_text(encoding="utf-8")
    assert html.count(EMPTY_ICON) == 1  # so that the browser asks nobody for /favicon.ico
    html = html.replace(EMPTY_ICON, "").replace("<!doctype", "")
    assert not re.search(r"https?:|//|<script|<link|@import|url\(|data:", html)
    links = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert links and all((page.parent / link).is_file() for link in links)


def test_checks_are_kept_and_not_run_again_for_the_same_take(run: tuple[Path, Path]) -> None:
    board, workdir = run
    loaded = storyboards.load(board).storyboard
    first = build_page(loaded, workdir)

    def must_not_run(clip: Path, **_: Any) -> TakeChecks:
        raise AssertionError(f"{clip.name} was checked again")

    second = build_page(loaded, workdir, checker=must_not_run)
    assert [s.takes for s in second.scenes] == [s.takes for s in first.scenes]
    cached = json.loads((workdir / "checks.json").read_text())
    assert cached["version"] == CHECKS_VERSION and len(cached["takes"]) == 3


def test_every_player_has_a_poster_frame_beside_the_page(run: tuple[Path, Path]) -> None:
    board, workdir = run
    result = write_review(storyboards.load(board).storyboard, workdir=workdir)

    html = result.path.read_text(encoding="utf-8")
    players = re.findall(r'<video [^>]*poster="([^"]+)" src="clips/([^"]+)"', html)
    assert len(players) == html.count("<video ") == 3
    for poster, clip in players:
        assert poster == f"review-posters/{Path(clip).stem}.jpg"
        with Image.open(workdir / poster) as image:
            assert image.format == "JPEG" and image.width <= 288 and image.height <= 448
            assert max(image.convert("L").getextrema()) > 40  # a frame, not a black card
        assert workdir / poster in result.side_files


def test_the_page_names_the_storyboard_relative_to_the_project_never_its_local_path(
    run: tuple[Path, Path],
) -> None:
    board, workdir = run  # worked on from the project's folder
    loaded = storyboards.load(board).storyboard
    html = write_review(loaded, workdir=workdir).path.read_text(encoding="utf-8")
    assert '<p class="meta">review.yaml</p>' in html
    assert str(board.parent) not in html


def test_checks_done_before_a_ctrl_c_are_kept(run: tuple[Path, Path]) -> None:
    board, workdir = run
    loaded = storyboards.load(board).storyboard
    (workdir / "checks.json").unlink(missing_ok=True)
    done: list[str] = []

    def interrupted_at_the_third(clip: Path, **options: Any) -> TakeChecks:
        if len(done) == 2:
            raise KeyboardInterrupt
        done.append(clip.name)
        return check_take(clip, **options)

    with pytest.raises(KeyboardInterrupt):
        build_page(loaded, workdir, checker=interrupted_at_the_third)
    kept = json.loads((workdir / "checks.json").read_text())["takes"]
    assert sorted(entry["take"] for entry in kept.values()) == sorted(done)


def test_a_damaged_cache_is_checked_afresh(run: tuple[Path, Path]) -> None:
    board, workdir = run
    (workdir / "checks.json").write_text("{not json", encoding="utf-8")
    page = build_page(storyboards.load(board).storyboard, workdir)
    assert page.counts()["takes"] == 3
    assert json.loads((workdir / "checks.json").read_text())["version"] == CHECKS_VERSION


def test_review_command_writes_the_page_and_opens_it(
    run: tuple[Path, Path], cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    board, workdir = run
    opened: list[str] = []
    monkeypatch.setattr("webbrowser.open", opened.append)

    result = cli("review", board, "--workdir", workdir, "--open")

    assert result.exit_code == 0, result.stderr
    assert result.stderr.strip().startswith(
        f"review: {workdir / 'review.html'} (3 takes of 5 scenes; "
    )
    assert opened == [(workdir / "review.html").resolve().as_uri()]


def test_review_command_json(run: tuple[Path, Path], cli: Callable[..., Any]) -> None:
    board, workdir = run
    result = cli("review", board, "--workdir", workdir, "--json")
    data = json.loads(result.stdout)
    assert data["page"] == str(workdir / "review.html") and data["link"] is None
    assert [s["pick"] is not None for s in data["scenes"]] == [True, True, True, False, False]
    assert data["counts"]["takes"] == 3


def test_review_without_a_run_says_what_to_give(cli: Callable[..., Any]) -> None:
    result = cli("review")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "error: no runs under out/ yet: start one with 'f1gen generate STORYBOARD' "
        "(or give the storyboard)"
    )


@pytest.fixture
def bucket(seaweedfs: SeaweedFS, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    with serve_bucket(seaweedfs, monkeypatch, tmp_path) as url:
        yield url


def test_review_uploads_the_page_beside_the_clips_in_the_bucket(
    run: tuple[Path, Path], cli: Callable[..., Any], bucket: str
) -> None:
    board, workdir = run
    assert cli("push", board, "--workdir", workdir).exit_code == 0
    result = cli("review", board, "--workdir", workdir)

    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines()[-1] == f"uploaded: {bucket}/{BUCKET}/review/review.html"
    s3 = boto3.client("s3", endpoint_url=bucket)
    head = s3.head_object(Bucket=BUCKET, Key="review/review.html")
    assert head["ContentType"] == "text/html; charset=utf-8"
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
    html = (workdir / "review.html").read_text(encoding="utf-8")
    for link in re.findall(r'(?:src|href|poster)="([^"]+)"', html.replace(EMPTY_ICON, "")):
        assert f"review/{link}" in keys  # every relative link resolves under the prefix


def test_a_review_uploaded_from_a_run_with_takes_plays_the_unpicked_ones_too(
    tmp_path: Path, cli: Callable[..., Any], bucket: str
) -> None:
    board, workdir = make_takes_run(tmp_path)
    assert cli("push", board, "--workdir", workdir).exit_code == 0  # the picks alone

    result = cli("review", board, "--workdir", workdir)

    assert result.exit_code == 0, result.stderr
    s3 = boto3.client("s3", endpoint_url=bucket)
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
    html = (workdir / "review.html").read_text(encoding="utf-8")
    takes = re.findall(r'<video[^>]* src="([^"]+)"', html)
    assert len(takes) == 7  # three scenes, two takes each, and the rejected silent one
    assert {f"takes/{link}" for link in takes} <= keys


def test_takes_checked_in_the_run_are_shown_by_their_names(tmp_path: Path) -> None:
    board, workdir = make_takes_run(tmp_path)

    page = build_page(storyboards.load(board).storyboard, workdir).as_dict()

    for scene in page["scenes"]:
        assert [t["checks"]["take"] for t in scene["takes"]] == [t["name"] for t in scene["takes"]]
        assert ".partial" not in json.dumps(scene)
