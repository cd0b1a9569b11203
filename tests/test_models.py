"""A backend serves a model, and the model sets the clip: Ovi's checkpoints, their frames by Ovi's
own resize rule, their lengths and prompt formats; `duration:` in the storyboard, refused where
the chosen model cannot make it; estimates by model."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from f1gen import storyboard as storyboards
from f1gen.backends import factory, prompt_for, spec_of
from f1gen.backends.models import OVI_720_5S, OVI_960_5S, OVI_960_10S, fitting, ovi_size
from f1gen.backends.traits import OVI_SPEC
from f1gen.errors import BadInputError
from tests.support.ovi_app_stand_in import ovi_frame


@pytest.mark.parametrize(
    ("image", "area", "made"),
    [
        ((576, 896), 720 * 720, (576, 896)),  # Ovi 1.0's portrait, as every backend makes it
        ((576, 896), 960 * 960, (768, 1184)),  # the same image on a 1.1 checkpoint
        ((1080, 1920), 960 * 960, (704, 1280)),  # 9:16 on 1.1: the published results' portrait
        ((1920, 1080), 960 * 960, (1280, 704)),
        ((1080, 1920), 720 * 720, (544, 960)),
        ((1000, 1000), 960 * 960, (960, 960)),
    ],
)
def test_the_frame_is_the_images_aspect_at_the_models_area_in_multiples_of_32(
    image: tuple[int, int], area: int, made: tuple[int, int]
) -> None:
    assert ovi_size(*image, area=area) == made == ovi_frame(*image, area=area)


def test_ovis_resize_rule_is_followed_for_any_image() -> None:
    sizes = [(w, h) for w in range(200, 2400, 173) for h in range(200, 2400, 157)]

    for area in (720 * 720, 960 * 960):
        assert [ovi_size(*s, area=area) for s in sizes] == [ovi_frame(*s, area=area) for s in sizes]


def test_each_model_makes_its_own_clip() -> None:
    assert OVI_720_5S.spec == OVI_SPEC  # what every Ovi backend made before models were named
    assert (OVI_960_5S.spec.size, OVI_960_5S.spec.frames, OVI_960_5S.spec.window) == (
        (704, 1280), (121, 122), (4.5, 5.5))  # fmt: skip
    assert (OVI_960_10S.spec.size, OVI_960_10S.spec.frames, OVI_960_10S.spec.window) == (
        (704, 1280), (241, 242), (9.5, 10.5))  # fmt: skip
    assert [m.seconds for m in (OVI_720_5S, OVI_960_5S, OVI_960_10S)] == [5, 5, 10]
    assert OVI_960_10S.spec.sample_rates == (16_000, 44_100)


def test_a_clip_tells_which_model_made_it_from_the_image_sent() -> None:
    assert fitting(704, 1280, 10.08, sent=(704, 1280)) == OVI_960_10S
    assert fitting(704, 1280, 5.08, sent=(704, 1280)) == OVI_960_5S
    assert fitting(768, 1184, 10.08, sent=(576, 896)) == OVI_960_10S
    assert fitting(576, 896, 5.04, sent=(576, 896)) == OVI_720_5S
    assert fitting(640, 360, 5.0, sent=(576, 896)) is None


def test_backends_declare_the_models_they_serve() -> None:
    assert [m.name for m in factory("ovi-app").served] == [
        "720x720_5s",
        "960x960_5s",
        "960x960_10s",
    ]
    for name in ("ovi", "fal", "replicate", "animatic"):
        assert factory(name).served == (OVI_720_5S,)


def test_an_identity_names_its_model_and_finds_its_clip_and_prompt_format() -> None:
    made = factory("ovi-app")

    assert made.identity("http://gpu:7891/", OVI_720_5S) == "ovi-app:http://gpu:7891/"
    assert made.identity("http://gpu:7891/", OVI_960_10S) == "ovi-app/960x960_10s:http://gpu:7891/"
    assert spec_of("ovi-app/960x960_10s:http://gpu:7891/") == OVI_960_10S.spec
    assert spec_of("ovi-app:http://gpu:7891/") == OVI_SPEC
    assert prompt_for("ovi-app/960x960_5s:x") is OVI_960_5S.prompt


def _board(write: Callable[..., Path], **extra: Any) -> Path:
    scenes = [
        {"id": "a", "image": "images/p0.png", "action": "Driver waves.", "speech": "We won!",
         "atmosphere": "Crowd cheering"},
        {"id": "b", "image": "images/p1.png", "action": "Driver nods.", "duration": 10},
    ]  # fmt: skip
    return write(scenes, **extra)


def test_prompts_for_ovi_11_models_put_the_sound_after_audio_at_the_end(
    write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    board = _board(write_storyboard)

    new = cli("prompts", board, "--backend", "ovi-app", "--model", "960x960_10s")
    old = cli("prompts", board, "--backend", "ovi-app")

    assert new.stdout.splitlines()[0] == "01 a: Driver waves. <S>We won!<E>. Audio: Crowd cheering."
    assert old.stdout.splitlines()[0] == (
        "01 a: Driver waves. <S>We won!<E>. <AUDCAP>Crowd cheering<ENDAUDCAP>.")  # fmt: skip


def test_an_audio_marker_in_user_text_is_refused_like_a_tag(
    write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    board = write_storyboard(
        [{"id": "a", "image": "images/p0.png", "action": "Waves.", "speech": "Audio: on air"}]
    )

    result = cli("validate", board)

    assert (result.exit_code, result.stderr) == (2, (
        f"error: {board}: scenes[1] (a).speech: contains the Ovi 1.1 tag 'Audio:', which breaks "
        "the prompt: remove it (f1gen adds the tags)\n"))  # fmt: skip


def test_a_duration_is_5_or_10_seconds_on_a_generated_scene(
    write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    board = write_storyboard(
        [{"id": "a", "image": "images/p0.png", "action": "Waves.", "duration": 7}],
        extra={"defaults": {"duration": 10}},
    )
    ok = _board(write_storyboard, name="ok.yaml", extra={"defaults": {"duration": 5}})

    result = cli("validate", board)

    assert result.exit_code == 2
    assert result.stderr == (
        f"error: {board}: scenes[1] (a).duration: 7 s is not a clip length any model makes: use "
        "5 or 10\n"
    )
    scenes = storyboards.load(ok).storyboard.scenes
    assert [(s.duration, s.seconds) for s in scenes] == [(None, 5), (10, 10)]


def test_a_long_line_is_measured_against_the_scenes_own_length(
    write_storyboard: Callable[..., Path],
) -> None:
    speech = " ".join(["word"] * 20)
    scenes = [{"id": "a", "image": "images/p0.png", "action": "Waves.", "speech": speech},
              {"id": "b", "image": "images/p0.png", "action": "Waves.", "speech": speech,
               "duration": 10}]  # fmt: skip
    board = write_storyboard(scenes)

    warnings = storyboards.load(board).warnings

    assert warnings == (
        f"{board}: scenes[1] (a).speech: 20 words may not fit 5 seconds (about 14): shorten it",
    )


@pytest.mark.parametrize(
    ("args", "fix"),
    [
        (("--backend", "ovi-app"), "make it with --model 960x960_10s"),
        (("--backend", "ovi"), "make it with --backend ovi-app --model 960x960_10s"),
    ],
)
def test_generate_and_validate_refuse_a_length_the_chosen_model_cannot_make(
    write_storyboard: Callable[..., Path], cli: Callable[..., Any], args: tuple[str, ...],
    fix: str,
) -> None:  # fmt: skip
    board = _board(write_storyboard)
    model = "ovi-app with model 720x720_5s" if "ovi-app" in args else "ovi with model 720x720_5s"
    line = (
        f"error: {board}: scenes[2] (b).duration: 10 s, but --backend {model} makes 5 s clips: "
        f"{fix}, or leave it out with --only\n"
    )

    made = cli("generate", board, *args)
    checked = cli("validate", board, *args)

    assert made.exit_code == 2 and made.stderr.endswith(line)  # before anything is sent
    assert (checked.exit_code, checked.stderr) == (2, line)
    assert cli("validate", board).exit_code == 0  # some backend's model makes every length
    assert cli("generate", board, *args, "--only", "a", "--dry-run").exit_code == 0


def test_a_5_second_scene_is_refused_on_the_10_second_model(
    write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    board = write_storyboard(
        [{"id": "a", "image": "images/p0.png", "action": "Waves.", "duration": 5}]
    )

    result = cli("generate", board, "--backend", "ovi-app", "--model", "960x960_10s", "--dry-run")

    assert (result.exit_code, result.stderr) == (2, (
        f"error: {board}: scenes[1] (a).duration: 5 s, but --backend ovi-app with model "
        "960x960_10s makes 10 s clips: make it with --model 720x720_5s or --model 960x960_5s, "
        "or leave it out with --only\n"))  # fmt: skip


@pytest.mark.parametrize(
    ("args", "env", "code", "line"),
    [
        (("--backend", "ovi-app", "--model", "1080p"), None, 2,
         "error: --model '1080p' is unknown for --backend ovi-app: use one of 720x720_5s, "
         "960x960_5s, 960x960_10s\n"),
        (("--backend", "ovi", "--model", "960x960_10s"), None, 2,
         "error: --model '960x960_10s': --backend ovi serves 720x720_5s only: leave --model out, "
         "or choose a backend that serves it (ovi-app)\n"),
        (("--backend", "ovi-app"), "960x960", 3,
         "error: OVI_MODEL='960x960' is not a model --backend ovi-app serves: use one of "
         "720x720_5s, 960x960_5s, 960x960_10s\n"),
    ],
)  # fmt: skip
def test_a_model_the_backend_does_not_serve_is_refused_before_anything_is_sent(
    write_storyboard: Callable[..., Path], cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...], env: str | None, code: int, line: str,
) -> None:  # fmt: skip
    if env is not None:
        monkeypatch.setenv("OVI_MODEL", env)

    result = cli("generate", write_storyboard(1), *args, "--dry-run")

    assert (result.exit_code, result.stderr) == (code, line)


def test_the_dry_run_counts_gpu_time_by_the_models_pixels_and_seconds(
    write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    board = write_storyboard(
        [
            {"id": f"s{n}", "image": "images/p0.png", "action": "Waves.", "duration": 10}
            for n in (1, 2, 3)
        ]
    )
    args = ("generate", board, "--backend", "ovi-app", "--model", "960x960_10s", "--dry-run")

    shown = cli(*args)
    data = json.loads(cli(*args, "--json").stdout)

    # 60 s at 40 steps for a 5 s 720x720 clip; (960/720)^2 x 10/5 = 3.56 times that.
    assert shown.stdout.splitlines()[0] == "would generate 01 s1 (40 steps, ~213 s GPU)"
    assert data["gpu_seconds"] == 640
    mine = next(e for e in data["estimates"] if e["backend"] == "ovi-app")
    assert (mine["gpu_seconds"], mine["wall_seconds"]) == (640, 640)


def test_money_is_estimated_by_the_model_too() -> None:
    from f1gen.backends.traits import REPLICATE_PRICE
    from f1gen.estimate import clip_usd, model_scale

    assert model_scale("ovi-app/960x960_10s:x") == pytest.approx(3.5556, abs=1e-4)
    assert model_scale("ovi:alexnasa/Ovi-ZEROGPU") == 1.0
    assert clip_usd(REPLICATE_PRICE, 40, scale=2.0) == pytest.approx(2 * 60 * 0.001525)


def test_a_model_for_a_backend_of_one_model_is_its_own() -> None:
    assert factory("ovi").model(None) == factory("ovi").model("720x720_5s") == OVI_720_5S
    with pytest.raises(BadInputError):
        factory("fal").model("960x960_5s")


def test_the_budget_guesses_a_first_clip_by_its_models_gpu_time(
    write_storyboard: Callable[..., Path], cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from tests.support.ovi_app_stand_in import OviAppStandIn

    app = OviAppStandIn(model="960x960_10s").start()
    monkeypatch.setenv("OVI_APP_URL", app.url)
    board = write_storyboard(
        [{"id": "a", "image": "images/p0.png", "action": "Waves.", "duration": 10}]
    )
    try:
        result = cli("generate", board, "--backend", "ovi-app", "--model", "960x960_10s",
                     "--budget", "3")  # fmt: skip
    finally:
        app.stop()

    assert result.exit_code == 75
    assert (
        "stopped: the next clip (~213 s) would pass the --budget of 3 GPU minutes (0.0 spent)"
        in result.stderr
    )
    assert app.calls == []


def test_ovi_model_in_the_environment_names_the_model_for_every_command(
    write_storyboard: Callable[..., Path], cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    scene = {"id": "b", "image": "images/p1.png", "action": "Talks.", "atmosphere": "Rain",
             "duration": 10}  # fmt: skip
    board = write_storyboard([scene])
    monkeypatch.setenv("OVI_MODEL", "960x960_10s")

    shown = cli("prompts", board, "--backend", "ovi-app")
    checked = cli("validate", board, "--backend", "ovi-app")
    planned = cli("generate", board, "--backend", "ovi-app", "--dry-run")
    named = cli("validate", board, "--backend", "ovi-app", "--model", "960x960_5s")

    assert shown.stdout == "01 b: Talks. Audio: Rain.\n"
    assert (checked.exit_code, planned.exit_code) == (0, 0)
    assert named.exit_code == 2  # --model beats OVI_MODEL
