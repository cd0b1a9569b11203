"""Settings: option > environment > .env > default, and secrets that never show themselves."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from f1gen.config import DEFAULT_SPACE, Secret, load_settings, read_environment
from f1gen.errors import ConfigError


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
