"""Settings: option > environment > .env > default, and secrets that never show themselves."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from f1gen.backends.ovi_settings import DEFAULT_SPACE, endpoints
from f1gen.config import load_settings, read_environment
from f1gen.errors import ConfigError
from f1gen.settings import Secret


def test_defaults_without_any_configuration() -> None:
    settings = load_settings(environ={})

    assert (settings.ovi_space, settings.sample_steps, settings.hf_token, settings.bucket) == (
        DEFAULT_SPACE, 40, None, None)  # fmt: skip
    assert settings.clip_timeout == 15 * 60


def test_option_beats_environment_beats_dotenv(monkeypatch: pytest.MonkeyPatch) -> None:
    Path(".env").write_text("OVI_SPACE=from/dotenv\nOVI_SAMPLE_STEPS=20\nHF_TOKEN=hf_dotenv\n")
    monkeypatch.setenv("OVI_SAMPLE_STEPS", "30")

    env = read_environment()
    plain = load_settings(environ=env)
    overridden = load_settings({"sample_steps": 50}, environ=env)

    assert (plain.ovi_space, plain.sample_steps) == ("from/dotenv", 30)
    assert overridden.sample_steps == 50
    assert plain.hf_token is not None and plain.hf_token.reveal() == "hf_dotenv"


def test_a_bad_number_names_the_variable() -> None:
    with pytest.raises(
        ConfigError, match=r"OVI_SAMPLE_STEPS='many' is not a whole number: fix it in .env"
    ):
        load_settings(environ={"OVI_SAMPLE_STEPS": "many"})


def test_a_secret_never_shows_itself() -> None:
    secret = Secret("hf_abcdef")
    settings = load_settings(environ={"HF_TOKEN": "hf_abcdef", "AWS_SECRET_ACCESS_KEY": "s3cr3t"})

    assert "hf_abcdef" not in repr(secret) + str(secret) + repr(settings)
    assert settings.redact("token hf_abcdef and key s3cr3t") == "token *** and key ***"


def test_a_dotenv_that_is_not_utf8_is_one_line_and_exit_3(
    write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    Path(".env").write_bytes(b"HF_TOKEN=caf\xe9\n")

    with pytest.raises(ConfigError, match=r"^\.env: not UTF-8 text \(byte 12\): save it as UTF-8$"):
        read_environment()
    result = cli("generate", write_storyboard(1), "--backend", "animatic")

    assert (result.exit_code, result.stderr) == (
        3,
        "error: .env: not UTF-8 text (byte 12): save it as UTF-8\n",
    )


@pytest.mark.parametrize(
    ("environ", "message"),
    [({"OVI_SAMPLE_STEPS": "3"}, "OVI_SAMPLE_STEPS=3 is out of range 10-100"),
     ({"OVI_SAMPLE_STEPS": "101"}, "OVI_SAMPLE_STEPS=101 is out of range 10-100")],
)  # fmt: skip
def test_sample_steps_from_the_environment_have_the_storyboards_range(
    environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=f"^{message}: fix it"):
        load_settings(environ=environ)


@pytest.mark.parametrize("steps", ["-3", "9", "100000"])
def test_sample_steps_from_the_option_have_the_storyboards_range(
    steps: str, write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    result = cli("generate", write_storyboard(1), "--dry-run", "--sample-steps", steps)

    assert result.exit_code == 2 and "Invalid value for '--sample-steps'" in result.stderr
    assert "~-" not in result.stdout


@pytest.mark.parametrize(
    ("option", "env", "steps"),
    [([], None, [20, 30]),                          # the storyboard's defaults
     (["--sample-steps", "50"], None, [50, 30]),    # the option beats the defaults, not a scene
     ([], "60", [20, 30])],                         # the defaults beat the environment
)  # fmt: skip
def test_sample_steps_precedence(
    option: list[str], env: str | None, steps: list[int],
    write_storyboard: Callable[..., Path], cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    if env:
        monkeypatch.setenv("OVI_SAMPLE_STEPS", env)
    board = write_storyboard(
        [{"id": "a", "image": "images/p0.png", "action": "Waves."},
         {"id": "b", "image": "images/p1.png", "action": "Nods.", "sample_steps": 30}],
        extra={"defaults": {"sample_steps": 20}},
    )  # fmt: skip

    result = cli("generate", board, "--dry-run", "--json", *option)

    assert [s["steps"] for s in json.loads(result.stdout)["generate"]] == steps


def test_a_url_password_is_a_secret() -> None:
    settings = load_settings(environ={"OVI_SPACE": "http://studio:Pa55word@gpu3.lan:7860/"})

    assert (
        settings.redact(f"cannot reach {settings.ovi_space}")
        == "cannot reach http://***@gpu3.lan:7860/"
    )
    with pytest.raises(ConfigError) as caught:
        endpoints(load_settings(environ={"OVI_SPACE": "http://studio:Pa55word@gpu3.lan/@GPU3"}))
    assert caught.value.message == (
        "OVI_SPACE names GPU3 for http://***@gpu3.lan/ but it is not set: set it in .env"
    )


BAD_SPACES = [
    ({"OVI_SPACE": "http://gpu9/@GPU9_TOKEN"},
     "OVI_SPACE names GPU9_TOKEN for http://gpu9/ but it is not set: set it in .env"),
    ({"OVI_SPACE": " , "},
     "OVI_SPACE is empty: give a Space id or a URL, e.g. alexnasa/Ovi-ZEROGPU"),
    ({"F1GEN_SPACES_FILE": "missing.txt"},
     "F1GEN_SPACES_FILE=missing.txt: cannot read (No such file or directory)"),
]  # fmt: skip


@pytest.mark.parametrize(("environ", "message"), BAD_SPACES)
def test_a_bad_ovi_space_is_reported_when_the_space_is_needed(
    environ: dict[str, str], message: str, write_storyboard: Callable[..., Path],
    cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    for name, value in environ.items():
        monkeypatch.setenv(name, value)

    settings = load_settings()  # reading the settings does not parse the endpoints
    result = cli("generate", write_storyboard(1))

    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        endpoints(settings)
    assert (result.exit_code, result.stderr.splitlines()[-1]) == (3, f"error: {message}")
    assert not Path("out/board/clips").exists()


def test_a_bad_ovi_space_does_not_stop_the_animatic_status_or_stitch(
    write_storyboard: Callable[..., Path], cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OVI_SPACE", "http://gpu9/@GPU9_TOKEN")
    board = write_storyboard(1)

    runs = [cli("generate", board, "--backend", "animatic"), cli("status"),
            cli("stitch", "--no-loudnorm")]  # fmt: skip

    assert [r.exit_code for r in runs] == [0, 0, 0], [r.stderr for r in runs]
    assert Path("out/board/final.mp4").is_file()
