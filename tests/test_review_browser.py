"""The review page in a real headless Chromium: it loads clean, every clip plays, checks show.

Skipped where Debian's chromium is not installed (.ci/run installs it when it runs as root).
A screenshot of the page is saved under test-artifacts/ (ignored by git).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from f1gen import storyboard as storyboards
from f1gen.review import write_review
from f1gen.state import StateStore
from tests.support.browser import chromium, find_chromium, wait_for_videos
from tests.support.reviews import BUCKET, make_run, make_takes_run, serve_bucket
from tests.support.seaweedfs import SeaweedFS

ARTIFACTS = Path(__file__).parent.parent / "test-artifacts"
CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed (apt-get install chromium): the page is not tested in a browser",
)


def test_the_review_page_loads_plays_every_take_and_shows_the_checks(tmp_path: Path) -> None:
    assert CHROMIUM is not None
    board, workdir = make_run(tmp_path)
    result = write_review(storyboards.load(board).storyboard, workdir=workdir)

    with chromium(CHROMIUM) as page:
        page.open(result.path.resolve().as_uri())
        states = wait_for_videos(page)
        time.sleep(0.5)  # let the first frames paint for the screenshot
        shot = page.screenshot(ARTIFACTS / "review.png")
        assert page.errors() == []
        assert len(states) == 3
        assert all(state[0] >= 1 and state[1] is None for state in states), states  # type: ignore[operator]
        rows = page.evaluate("document.querySelectorAll('tr.check').length")
        assert rows == sum(
            len(t.checks.checks) for s in result.page.scenes for t in s.takes if t.checks
        )
        text = page.evaluate("document.body.innerText")
        assert "no speech, but the scene has a line" in text
        assert "5 of 5 words of the line heard" in text
        sheet = page.evaluate("document.querySelector('.sheet img').naturalWidth")
        assert sheet > 0
    assert shot.stat().st_size > 10_000


def test_every_take_of_every_scene_plays_with_its_checks_and_the_pick_marked(
    tmp_path: Path,
) -> None:
    assert CHROMIUM is not None
    board, workdir = make_takes_run(tmp_path)
    state = StateStore(workdir).read()
    result = write_review(storyboards.load(board).storyboard, workdir=workdir)

    with chromium(CHROMIUM) as page:
        page.open(result.path.resolve().as_uri())
        states = wait_for_videos(page)
        time.sleep(0.5)  # let the first frames paint for the screenshot
        shot = page.screenshot(ARTIFACTS / "review-takes.png")
        errors = page.errors()
        takes = page.evaluate(
            "Array.from(document.querySelectorAll('section.scene')).map(s => [s.dataset.scene, "
            "Array.from(s.querySelectorAll('figure.take')).map(f => f.dataset.take), "
            "Array.from(s.querySelectorAll('figure.take.picked')).map(f => f.dataset.take), "
            "s.querySelectorAll('tr.check').length])"
        )
        rows = page.evaluate(  # the top of each take: takes side by side share a row
            "Array.from(document.querySelectorAll('section.scene')).map(s => "
            "Array.from(s.querySelectorAll('figure.take')).map(f => f.offsetTop))"
        )
        text = page.evaluate("document.body.innerText")
    assert errors == []
    assert len(states) == 7  # 2 + 3 (one rejected) + 2
    assert all(s[0] >= 1 and s[1] is None for s in states), states  # type: ignore[operator]
    assert [row[0] for row in takes] == ["aloud", "mute", "spoken"]
    for scene, names, picked, checks in takes:
        entry = state.scenes[scene]
        assert names == [t.name for t in entry.takes]
        assert picked == [Path(entry.clip or "").name]  # the take the cut uses, and only it
        assert checks >= 6 * len(names)  # every take shows its checks
        assert f"Pick: {picked[0]}: {entry.pick_reason}" in text
    assert all(row[0] == row[1] for row in rows), rows  # in a 1280-pixel-wide window
    assert text.count("failed a hard check") == 1
    assert "no speech, but the scene has a line" in text
    assert shot.stat().st_size > 10_000


def test_three_takes_fit_side_by_side_at_1400_pixels_each_with_its_poster(
    tmp_path: Path,
) -> None:
    assert CHROMIUM is not None
    board, workdir = make_takes_run(tmp_path)
    result = write_review(storyboards.load(board).storyboard, workdir=workdir)

    with chromium(CHROMIUM) as page:
        page.resize(1400, 900)
        page.open(result.path.resolve().as_uri())
        wait_for_videos(page)
        rows = page.evaluate(
            "Array.from(document.querySelectorAll('section.scene')).map(s => "
            "Array.from(s.querySelectorAll('figure.take')).map(f => f.offsetTop))"
        )
        posters = page.evaluate(
            "Array.from(document.querySelectorAll('video')).map(v => v.getAttribute('poster'))"
        )
        time.sleep(0.5)
        page.screenshot(ARTIFACTS / "review-1400.png")
        errors = page.errors()
    assert errors == []
    assert [len(row) for row in rows] == [2, 3, 2]
    assert all(len(set(row)) == 1 for row in rows), rows  # each scene's takes on one row
    assert len(posters) == 7 and all((workdir / p).is_file() for p in posters), posters


def test_a_missing_clip_is_a_console_error_the_test_would_see(tmp_path: Path) -> None:
    assert CHROMIUM is not None
    board, workdir = make_run(tmp_path)
    result = write_review(storyboards.load(board).storyboard, workdir=workdir)
    gone = next(t for s in result.page.scenes for t in s.takes)
    (workdir / gone.path).unlink()

    with chromium(CHROMIUM) as page:
        page.open(result.path.resolve().as_uri())
        states = wait_for_videos(page)
        errors = page.errors()
    assert any(state[1] for state in states)  # the video reports its error
    assert any(gone.name in error for error in errors), errors


@pytest.fixture
def bucket(seaweedfs: SeaweedFS, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    with serve_bucket(seaweedfs, monkeypatch, tmp_path) as url:
        yield url


def test_the_review_page_plays_from_the_buckets_public_url(
    tmp_path: Path, cli: Callable[..., Any], bucket: str
) -> None:
    assert CHROMIUM is not None
    board, workdir = make_run(tmp_path)
    assert cli("push", board, "--workdir", workdir).exit_code == 0
    assert cli("review", board, "--workdir", workdir).exit_code == 0

    with chromium(CHROMIUM) as page:
        page.open(f"{bucket}/{BUCKET}/review/review.html")
        states = wait_for_videos(page)
        errors = page.errors()
        shown = page.evaluate("document.querySelectorAll('tr.check').length")
    assert errors == []
    assert len(states) == 3 and all(s[0] >= 1 and s[1] is None for s in states), states  # type: ignore[operator]
    assert all(str(s[2]).startswith(f"{bucket}/{BUCKET}/review/clips/") for s in states)
    assert shown > 0
