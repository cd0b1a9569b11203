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


@pytest.fixture
def app_11(monkeypatch: pytest.MonkeyPatch) -> Iterator[OviAppStandIn]:
    """Ovi's app serving a 1.1 checkpoint: clips made as the checkpoint makes them."""
    stand_in = OviAppStandIn(model="960x960_10s").start()
    monkeypatch.setenv("OVI_APP_URL", stand_in.url)
    monkeypatch.setenv("F1GEN_BACKOFF_SECONDS", "0.01")
    yield stand_in
    stand_in.stop()


def _image_size(path: str) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as image:
        return image.size


def test_ovi_11_clips_of_5_and_10_seconds_and_another_size_make_one_sync_true_cut(
    app_11: OviAppStandIn, write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    import json

    from tests.support import mediatools

    board = write_storyboard([
        {"id": "a", "image": "images/p0.png", "action": "Driver waves.", "speech": "We won!",
         "atmosphere": "Crowd cheering"},
        {"id": "b", "image": "images/p1.png", "action": "Driver talks.", "duration": 10,
         "speech": "It was a long race and the tyres held on to the very last lap.",
         "atmosphere": "Engines revving"},
        {"id": "c", "image": "images/p0.png", "action": "Driver nods.", "duration": 5},
        {"id": "d", "image": "images/p1.png", "action": "Driver bows."},
    ])  # fmt: skip

    app_11.model = "960x960_5s"  # the app restarted on each checkpoint in turn
    five = cli("generate", board, "--backend", "ovi-app", "--model", "960x960_5s", "--only", "a,c")
    app_11.model = "960x960_10s"
    ten = cli("generate", board, "--backend", "ovi-app", "--model", "960x960_10s", "--only", "b")
    app_11.model = "720x720_5s"  # Ovi 1.0's clips, made by the model f1gen names by default
    old = cli("generate", board, "--backend", "ovi-app", "--only", "d")
    cut = cli("stitch", board, "--json")

    assert [r.exit_code for r in (five, ten, old, cut)] == [0, 0, 0, 0], (
        five.stderr + ten.stderr + old.stderr + cut.stderr)  # fmt: skip
    calls = {c["text_prompt"].split(".")[0]: c for c in app_11.calls}
    # Prompts in each model's format; the image prepared at the frame the model makes.
    assert calls["Driver waves"]["text_prompt"] == (
        "Driver waves. <S>We won!<E>. Audio: Crowd cheering.")  # fmt: skip
    assert calls["Driver talks"]["text_prompt"].endswith("<E>. Audio: Engines revving.")
    assert calls["Driver bows"]["text_prompt"] == "Driver bows."
    assert [_image_size(calls[k]["image"]) for k in ("Driver waves", "Driver talks", "Driver bows")
            ] == [(704, 1280), (704, 1280), (576, 896)]  # fmt: skip
    assert (calls["Driver talks"]["video_frame_height"], calls["Driver talks"]["video_frame_width"]
            ) == (1280, 704)  # fmt: skip
    assert [calls[k]["made"]["size"] for k in ("Driver waves", "Driver talks", "Driver bows")
            ] == [(704, 1280), (704, 1280), (576, 896)]  # fmt: skip
    # Each run kept the clips the others made.
    state = json.loads(Path("out/board/state.json").read_text())
    assert {k: (v["status"], v["backend"].split(":")[0]) for k, v in state["scenes"].items()} == {
        "a": ("done", "ovi-app/960x960_5s"), "b": ("done", "ovi-app/960x960_10s"),
        "c": ("done", "ovi-app/960x960_5s"), "d": ("done", "ovi-app")}  # fmt: skip
    # One cut at the first clip's frame; slots at the clips' real lengths; in sync within a frame.
    data = json.loads(cut.stdout)
    slots = [(c["scene"], round(c["start"], 3), round(c["duration"], 3)) for c in data["clips"]]
    assert slots == [("a", 0.0, 5.083), ("b", 5.083, 10.083), ("c", 15.167, 5.083),
                     ("d", 20.25, 5.083)]  # fmt: skip
    output = Path(data["output"])
    info = __import__("f1gen.media", fromlist=["probe"]).probe(output)
    assert (info.video.width, info.video.height) == (704, 1280)
    order = ("Driver waves", "Driver talks", "Driver nods", "Driver bows")
    expected = [start + calls[k]["made"]["marker"]
                for (_, start, _), k in zip(slots, order, strict=True)]  # fmt: skip
    frames = mediatools.white_frame_times(output)
    beeps = mediatools.beep_times(output)
    assert len(frames) == len(beeps) == 4
    for seen, heard, wanted in zip(frames, beeps, expected, strict=True):
        assert abs(seen - wanted) <= mediatools.FRAME
        assert abs(heard - seen) <= mediatools.FRAME
    cues = Path(data["output"]).with_suffix(".srt").read_text()
    assert "00:00:05,083 --> 00:00:15,167" in cues  # the 10 s scene's caption, its real slot


def test_an_app_serving_another_model_stops_the_run_at_its_first_clip(
    app_11: OviAppStandIn, write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    result = cli("generate", write_storyboard(3), "--backend", "ovi-app")

    assert result.exit_code == 3
    assert result.stderr.splitlines()[-1] == (
        f"error: the Ovi app at {app_11.url} made a 768x1184 clip of 10.08 s, not what "
        "720x720_5s makes (576x896, 5 s): it serves 960x960_10s: re-run with --model "
        "960x960_10s (or OVI_MODEL)"
    )
    assert len(app_11.calls) == 1  # no second clip was asked for
    assert not list(Path("out/board/clips").glob("*.mp4"))


def test_a_clip_of_no_ovi_model_names_every_model_to_choose_from(
    write_storyboard: Callable[..., Path], cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:  # fmt: skip
    from tests.support import mediatools

    landscape = mediatools.make_marker_clip(tmp_path / "wide.mp4", marker_frame=12,
                                            size=(640, 360))  # fmt: skip
    app = OviAppStandIn(landscape.path).start()
    monkeypatch.setenv("OVI_APP_URL", app.url)
    try:
        result = cli("generate", write_storyboard(2), "--backend", "ovi-app", "--model",
                     "960x960_5s")  # fmt: skip
    finally:
        app.stop()

    assert result.exit_code == 3
    assert result.stderr.splitlines()[-1] == (
        f"error: the Ovi app at {app.url} made a 640x360 clip of 5.04 s, not what 960x960_5s "
        "makes (704x1280, 5 s): re-run with the --model (or OVI_MODEL) it serves: 720x720_5s, "
        "960x960_5s, 960x960_10s"
    )
    assert len(app.calls) == 1
