"""Several Ovi endpoints at once: one clip in flight on each, each classified on its own."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from f1gen.backends.ovi_settings import endpoints
from f1gen.config import load_settings
from f1gen.errors import ConfigError
from tests.support.mediatools import MarkerClip
from tests.support.ovi_stand_in import StandIn


@pytest.fixture
def spaces(
    marker_clips: list[MarkerClip], monkeypatch: pytest.MonkeyPatch
) -> Iterator[list[StandIn]]:
    """Three local stand-ins, each taking a moment per clip, named together in OVI_SPACE."""
    started = [StandIn(marker_clips[0].path, gen_seconds=0.4).start() for _ in range(3)]
    monkeypatch.setenv("OVI_SPACE", ",".join(s.url for s in started))
    monkeypatch.setenv("F1GEN_BACKOFF_SECONDS", "0.01")
    monkeypatch.setenv("F1GEN_BUSY_RETRIES", "2")
    yield started
    for stand_in in started:
        stand_in.stop()


def _state() -> dict[str, Any]:
    return json.loads(Path("out/board/state.json").read_text())


def test_endpoints_are_read_from_a_list_with_their_own_tokens() -> None:
    env = {
        "OVI_SPACE": "a/one, http://gpu2:7860/@GPU2_TOKEN,\nb/two",
        "HF_TOKEN": "hf_main",
        "GPU2_TOKEN": "tok2",
    }

    settings = load_settings(environ=env)

    assert [e.src for e in endpoints(settings)] == ["a/one", "http://gpu2:7860/", "b/two"]
    tokens = [e.token.reveal() if e.token else None for e in endpoints(settings)]
    assert tokens == ["hf_main", "tok2", "hf_main"]
    assert settings.redact("tok2 and hf_main") == "*** and ***"


def test_a_missing_token_variable_names_itself() -> None:
    with pytest.raises(
        ConfigError, match=r"OVI_SPACE names GPU9_TOKEN for http://gpu9/ but it is not set"
    ):
        endpoints(load_settings(environ={"OVI_SPACE": "http://gpu9/@GPU9_TOKEN"}))


def test_endpoints_can_come_from_a_file(tmp_path: Path) -> None:
    listing = tmp_path / "spaces.txt"
    listing.write_text("# our GPUs\nhttp://gpu1:7860/\nhttp://gpu2:7860/\n")

    settings = load_settings(environ={"F1GEN_SPACES_FILE": str(listing)})

    assert [e.src for e in endpoints(settings)] == ["http://gpu1:7860/", "http://gpu2:7860/"]


def test_work_is_spread_over_every_endpoint_and_no_scene_runs_twice(
    spaces: list[StandIn], write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    result = cli("generate", write_storyboard(9), "--json")

    assert result.exit_code == 0, result.stderr
    assert all(len(s.calls) >= 2 for s in spaces)  # everyone worked
    calls = [c for s in spaces for c in s.calls]
    assert sorted(c.text_prompt for c in calls) == sorted(
        set(c.text_prompt for c in calls)
    )  # once each
    overlapping = sum(
        1
        for a in calls
        for b in calls
        if a is not b and a.started < b.finished and b.started < a.finished
    )
    assert overlapping > 0  # endpoints really worked at the same time
    for stand_in in spaces:  # but never two clips at once on one endpoint
        ordered = sorted(stand_in.calls, key=lambda c: c.started)
        assert all(x.finished <= y.started for x, y in itertools.pairwise(ordered))
    made_by = {e["backend"] for e in _state()["scenes"].values()}
    assert made_by == {f"ovi:{s.url}" for s in spaces}
    status = json.loads(cli("status", "--json").stdout)
    assert {row["backend"] for row in status["scenes"]} == made_by


def test_a_later_run_keeps_clips_from_any_endpoint_of_the_pool(
    spaces: list[StandIn], write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    board = write_storyboard(4)
    cli("generate", board)

    again = cli("generate", board, "--json")

    assert json.loads(again.stdout)["skipped"] == ["s1", "s2", "s3", "s4"]
    assert sum(len(s.calls) for s in spaces) == 4


def test_an_endpoint_out_of_quota_leaves_the_rotation_and_the_others_finish(
    spaces: list[StandIn], write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    spaces[1].then("quota")
    spaces[2].then("busy", "busy", "busy", "busy")  # stays busy through its retries: an outage

    result = cli("generate", write_storyboard(6), "--json")

    assert result.exit_code == 0, result.stderr
    assert (
        json.loads(result.stdout)["generated"] and len(json.loads(result.stdout)["generated"]) == 6
    )
    assert f"ovi:{spaces[1].url} is out of rotation: ZeroGPU quota exhausted" in result.stderr
    assert (
        f"ovi:{spaces[2].url} is out of rotation: the Space {spaces[2].url} stayed busy"
        in result.stderr
    )
    assert list(_state()["retry_after"]) == [f"ovi:{spaces[1].url}"]
    assert {c.behaviour for c in spaces[1].calls} == {"quota"}  # not called again after its quota
    assert all(len(e["takes"]) == 1 for e in _state()["scenes"].values())


def test_when_every_endpoint_is_out_of_quota_the_run_stops_resumable(
    spaces: list[StandIn], write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    for stand_in in spaces:
        stand_in.then("quota")
    board = write_storyboard(4)

    result = cli("generate", board, "--json")
    early = cli("generate", board)

    assert result.exit_code == 75
    assert json.loads(result.stdout)["stopped"].startswith("no endpoint can take work (")
    assert len(_state()["retry_after"]) == 3
    assert (
        early.exit_code == 75 and sum(len(s.calls) for s in spaces) == 3
    )  # the early run called no one
