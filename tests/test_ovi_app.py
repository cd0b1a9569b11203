"""Ovi's own gradio_app.py on your GPU: its API read from the server, 896x576 portrait, the
scene's seed, Ovi's defaults for the rest, and its habit of returning None on an error."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from f1gen import storyboard as storyboards
from f1gen.backends import ClipRequest, build_lanes
from f1gen.config import load_settings
from f1gen.errors import GenerationError
from tests.support.faults import ctrl_c_during
from tests.support.mediatools import MarkerClip
from tests.support.ovi_app_stand_in import OviAppStandIn


@pytest.fixture
def app(marker_clips: list[MarkerClip], monkeypatch: pytest.MonkeyPatch) -> Iterator[OviAppStandIn]:
    """A real Gradio server with the official app's inputs, named by OVI_APP_URL."""
    stand_in = OviAppStandIn(marker_clips[0].path).start()
    monkeypatch.setenv("OVI_APP_URL", stand_in.url)
    monkeypatch.setenv("F1GEN_BACKOFF_SECONDS", "0.01")
    yield stand_in
    stand_in.stop()


def test_the_app_gets_portrait_size_the_seed_and_ovis_defaults(
    app: OviAppStandIn, write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    scenes = [{"id": "s1", "image": "images/p0.png", "action": "Driver waves.", "seed": 4242},
              {"id": "s2", "image": "images/p1.png", "action": "Driver nods.", "sample_steps": 30}]  # fmt: skip

    result = cli("generate", write_storyboard(scenes), "--backend", "ovi-app", "--seed", "77")

    assert result.exit_code == 0, result.stderr
    first, second = sorted(app.calls, key=lambda c: c["text_prompt"], reverse=True)
    assert (first["video_frame_height"], first["video_frame_width"]) == (896, 576)
    assert (first["video_seed"], second["video_seed"]) == (4242, 77)  # its own, else --seed
    assert (first["sample_steps"], second["sample_steps"]) == (40, 30)
    assert first["solver_name"] == "unipc" and first["slg_layer"] == 11
    assert first["video_negative_prompt"] == "jitter, bad hands, blur, distortion"
    assert first["audio_negative_prompt"] == "robotic, muffled, echo, distorted"
    assert first["image"]  # the prepared character image was uploaded


def test_a_none_from_the_app_is_a_failed_attempt_and_retried(
    app: OviAppStandIn, write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    app.then("none")

    result = cli("generate", write_storyboard(1), "--backend", "ovi-app")

    assert result.exit_code == 0, result.stderr
    assert (
        "attempt 1 failed: the Ovi app returned no clip (the app swallowed an error: see its log); retrying"
        in result.stderr
    )
    assert len(app.calls) == 2


def test_a_seed_the_app_cannot_take_is_refused_before_the_call(
    app: OviAppStandIn, write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    result = cli("generate", write_storyboard(1), "--backend", "ovi-app", "--seed", "100001")

    assert result.exit_code == 2
    assert (
        "error: scenes[1] (s1).seed: 100001 is above 100000, the most Ovi's app takes: use a smaller seed"
        in result.stderr
    )
    assert app.calls == []


def test_a_server_that_is_not_ovis_app_stops_with_exit_3(
    write_storyboard: Callable[..., Path], cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch,
    marker_clips: list[MarkerClip],
) -> None:  # fmt: skip
    from tests.support.ovi_stand_in import StandIn

    space = StandIn(marker_clips[0].path).start()  # the Space's API: /generate_scene
    monkeypatch.setenv("OVI_APP_URL", space.url)
    try:
        result = cli("generate", write_storyboard(1), "--backend", "ovi-app")
    finally:
        space.stop()

    assert result.exit_code == 3
    assert (
        f"error: {space.url} has no /generate_video endpoint (it offers: /generate_scene): is it Ovi's gradio_app.py? check OVI_APP_URL"
        in result.stderr
    )


def test_an_app_url_where_nothing_listens_is_a_configuration_error_at_once(
    app: OviAppStandIn, write_storyboard: Callable[..., Path], cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    app.stop()  # nothing listens at OVI_APP_URL: a wrong port, or the app not started yet
    monkeypatch.setenv("F1GEN_BUSY_RETRIES", "2")  # were it busy: one quick retry, then exit 75

    result = cli("generate", write_storyboard(1), "--backend", "ovi-app")

    assert result.exit_code == 3
    assert result.stderr.splitlines()[-1] == (
        f"error: nothing answers at {app.url} (connection refused): start Ovi's app there "
        "(python gradio_app.py) or fix OVI_APP_URL"
    )


def test_ctrl_c_while_waiting_for_the_app_to_come_back_ends_the_wait_and_sends_nothing(
    app: OviAppStandIn, write_storyboard: Callable[..., Path], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("F1GEN_BACKOFF_SECONDS", "3600")  # a wait no test could sit through
    [lane] = build_lanes("ovi-app", settings=load_settings(), workdir=tmp_path, parallel=1)
    lane.prepare(lambda update: None)
    app.stop()  # the app goes away (restarted, say): unreachable is busy, and waited out
    scene = storyboards.load(write_storyboard(1)).storyboard.scenes[0]
    assert scene.image is not None
    request = ClipRequest(scene=scene, prompt="Driver waves.", image=scene.image, sample_steps=40)

    raised = ctrl_c_during(lane, request, tmp_path / "a.mp4", when="retry in")

    assert isinstance(raised, GenerationError)
    assert raised.message == "interrupted: no job was sent"
    assert app.calls == []
