"""Settings in one place: command-line option > environment (and .env) > default, for f1gen's
own settings and for what every registered backend declares it reads (its key, its address)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from .backends import factories
from .errors import ConfigError
from .settings import (
    DEFAULT_CLIP_TIMEOUT,
    DEFAULT_SAMPLE_STEPS,
    MAX_SAMPLE_STEPS,
    MIN_SAMPLE_STEPS,
    Secret,
    Settings,
)


def read_environment(dotenv_path: Path | None = None) -> dict[str, str]:
    """The process environment laid over the .env file: the real environment wins.

    The .env file is F1GEN_ENV_FILE when set (cron entries name it), else ./.env.
    """
    if dotenv_path is None:
        dotenv_path = Path(os.environ.get("F1GEN_ENV_FILE") or ".env")
    merged: dict[str, str] = {}
    if dotenv_path.is_file():
        from dotenv import dotenv_values

        try:
            values = dotenv_values(dotenv_path, encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"{dotenv_path}: not UTF-8 text (byte {exc.start}): save it as UTF-8"
            ) from None
        except OSError as exc:
            raise ConfigError(
                f"{dotenv_path}: cannot read ({exc.strerror}): fix its permissions"
            ) from None
        merged.update({k: v for k, v in values.items() if v is not None})
    merged.update(os.environ)
    return merged


def _int_setting(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(
            f"{name}={raw!r} is not a whole number: fix it in .env or the environment"
        ) from None


def _bool_setting(name: str, option: object, raw: str | None) -> bool:
    """An on/off setting: the option when given, else the environment (1/0, on/off), else on."""
    if isinstance(option, bool):
        return option
    if raw is None or raw.strip() == "":
        return True
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigError(
        f"{name}={raw!r} is not on or off (1 or 0): fix it in .env or the environment"
    )


def _float_setting(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise ConfigError(
            f"{name}={raw!r} is not a number of seconds: fix it in .env or the environment"
        )
    return value


def load_settings(
    options: Mapping[str, object | None] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve settings with the precedence option > environment > default."""
    env = read_environment() if environ is None else dict(environ)
    opts = {k: v for k, v in (options or {}).items() if v is not None}
    declared = _declared(env, opts)
    # Only to keep it out of messages: boto3 reads its own credentials chain.
    known = [env.get("AWS_SECRET_ACCESS_KEY"), *_secrets(list(declared.values()))]
    timeout_raw = opts.get("clip_timeout_minutes", env.get("F1GEN_CLIP_TIMEOUT_MINUTES"))
    return Settings(
        ffmpeg=str(opts.get("ffmpeg") or env.get("F1GEN_FFMPEG") or "") or None,
        sample_steps=_steps(opts, env),
        clip_timeout=DEFAULT_CLIP_TIMEOUT
        if timeout_raw in (None, "")
        else 60.0 * _int_setting("F1GEN_CLIP_TIMEOUT_MINUTES", str(timeout_raw)),
        busy_retries=_int_setting("F1GEN_BUSY_RETRIES", env.get("F1GEN_BUSY_RETRIES") or "6"),
        backoff_seconds=_float_setting(
            "F1GEN_BACKOFF_SECONDS", env.get("F1GEN_BACKOFF_SECONDS") or "15"
        ),
        bucket=str(opts.get("bucket") or env.get("F1GEN_BUCKET") or "") or None,
        s3_endpoint=env.get("F1GEN_S3_ENDPOINT")
        or env.get("AWS_ENDPOINT_URL_S3")
        or env.get("AWS_ENDPOINT_URL")
        or None,
        public_url=env.get("F1GEN_PUBLIC_URL") or None,
        link_seconds=_int_setting("F1GEN_LINK_SECONDS", env.get("F1GEN_LINK_SECONDS") or "604800"),
        s3_attempts=_int_setting("F1GEN_S3_ATTEMPTS", env.get("F1GEN_S3_ATTEMPTS") or "5"),
        checks=_bool_setting("F1GEN_CHECKS", opts.get("checks"), env.get("F1GEN_CHECKS")),
        declared=tuple(declared.items()),
        secrets=tuple(s for s in known if s),
    )


def _steps(opts: Mapping[str, object], env: Mapping[str, str]) -> int:
    """OVI_SAMPLE_STEPS or --sample-steps, in the storyboard's range."""
    steps_raw = opts.get("sample_steps", env.get("OVI_SAMPLE_STEPS"))
    steps = (
        DEFAULT_SAMPLE_STEPS
        if steps_raw in (None, "")
        else _int_setting("OVI_SAMPLE_STEPS", str(steps_raw))
    )
    if not MIN_SAMPLE_STEPS <= steps <= MAX_SAMPLE_STEPS:
        name = "--sample-steps" if "sample_steps" in opts else "OVI_SAMPLE_STEPS"
        raise ConfigError(
            f"{name}={steps} is out of range {MIN_SAMPLE_STEPS}-{MAX_SAMPLE_STEPS}: "
            "fix it (the storyboard's sample_steps have the same range)"
        )
    return steps


def _declared(env: Mapping[str, str], opts: Mapping[str, object]) -> dict[str, object]:
    """What every registered backend declares it reads, resolved (never raises: a backend
    parses its own values when it is built or checked)."""
    values: dict[str, object] = {}
    for made in factories():
        for setting in made.settings:
            values[setting.name] = setting.read(env, opts)
        values.update(made.derived(env, opts, values))
    return values


def _secrets(values: object) -> list[str]:
    """Every secret among the declared values, however deep in tuples."""
    if isinstance(values, Secret):
        return [values.reveal()]
    if isinstance(values, tuple | list):
        return [s for item in values for s in _secrets(item)]
    return []
