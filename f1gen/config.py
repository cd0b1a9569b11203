"""Settings in one place: command-line option > environment (and .env) > default."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from .backends import REGISTRY
from .errors import ConfigError

DEFAULT_SPACE = "alexnasa/Ovi-ZEROGPU"
BACKENDS = tuple(REGISTRY)  # the registry's names (backends/__init__.py), the default first
DEFAULT_FAL_QUEUE_HOST = "queue.fal.run"
DEFAULT_OVI_APP = "http://127.0.0.1:7891/"  # where Ovi's gradio_app.py serves by default
DEFAULT_SAMPLE_STEPS = 40
MIN_SAMPLE_STEPS, MAX_SAMPLE_STEPS = 10, 100  # the storyboard's range too
DEFAULT_CLIP_TIMEOUT = 15 * 60.0
TOKEN_VAR = re.compile(r"@[A-Z_][A-Z0-9_]*$")


class Secret:
    """A value that never shows itself in repr, str, logs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The real value, for the one call that needs it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)


@dataclass(frozen=True)
class Endpoint:
    """One Ovi endpoint (a Space id or a URL), the token it is called with and where that came
    from (HF_TOKEN, --hf-token, or the variable its @NAME names)."""

    src: str
    token: Secret | None = None
    token_source: str = "HF_TOKEN"


def url_credentials(src: str) -> str | None:
    """The user:password part of a URL (http://user:pass@host/), which is a secret."""
    if "://" not in src:
        return None
    try:
        netloc = urlsplit(src).netloc
    except ValueError:
        return None
    userinfo, at, _ = netloc.rpartition("@")
    return userinfo if at and userinfo else None


def parse_endpoints(
    text: str,
    env: Mapping[str, str],
    default_token: Secret | None,
    *,
    token_source: str = "HF_TOKEN",
) -> tuple[Endpoint, ...]:
    """'a/b, http://gpu2:7860/@GPU2_TOKEN' -> endpoints; @NAME names the token's variable."""
    found = []
    for item in _items(text):
        src, _, variable = item.rpartition("@") if TOKEN_VAR.search(item) else (item, "", "")
        token, source = default_token, token_source
        if variable:
            value = env.get(variable)
            if not value:
                credentials = url_credentials(src)
                shown = src.replace(credentials, "***") if credentials else src
                raise ConfigError(
                    f"OVI_SPACE names {variable} for {shown} but it is not set: set it in .env"
                )
            token, source = Secret(value), variable
        found.append(Endpoint(src, token, source))
    if not found:
        raise ConfigError("OVI_SPACE is empty: give a Space id or a URL, e.g. alexnasa/Ovi-ZEROGPU")
    return tuple(found)


@dataclass(frozen=True)
class Settings:
    """Everything configurable, resolved once by load_settings."""

    ffmpeg: str | None = None
    hf_token: Secret | None = None
    # OVI_SPACE as given (one endpoint, or a list): parsed by endpoints(), when the ovi backend
    # is built or checked, so that a bad one never stops another backend, status or stitch.
    ovi_space: str = DEFAULT_SPACE
    endpoint_tokens: tuple[tuple[str, Secret], ...] = ()  # the variables its @NAMEs name
    spaces_problem: str | None = None  # why F1GEN_SPACES_FILE could not be read
    sample_steps: int = DEFAULT_SAMPLE_STEPS
    token_source: str = "HF_TOKEN"  # where hf_token came from, for messages
    clip_timeout: float = DEFAULT_CLIP_TIMEOUT
    busy_retries: int = 6
    backoff_seconds: float = 15.0
    bucket: str | None = None
    s3_endpoint: str | None = None
    public_url: str | None = None
    link_seconds: int = 7 * 24 * 3600
    s3_attempts: int = 5
    fal_key: Secret | None = None
    fal_queue_host: str = DEFAULT_FAL_QUEUE_HOST
    replicate_token: Secret | None = None
    replicate_base_url: str | None = None
    ovi_app_url: str = DEFAULT_OVI_APP
    ovi_model: str | None = None  # --model, OVI_MODEL: the checkpoint Ovi's app serves
    resend_unknown: bool = False  # send again requests whose first sending was cut off (fal)
    checks: bool = True  # check every take in the run (--no-checks, F1GEN_CHECKS=0: off)
    secrets: tuple[str, ...] = field(default=(), repr=False)

    def redact(self, text: str) -> str:
        """Text with every known secret replaced by ***."""
        for secret in self.secrets:
            if secret:
                text = text.replace(secret, "***")
        return text

    def endpoints(self) -> tuple[Endpoint, ...]:
        """The Ovi endpoints, each with its token; ConfigError naming what is wrong with them."""
        if self.spaces_problem:
            raise ConfigError(self.spaces_problem)
        tokens = {name: secret.reveal() for name, secret in self.endpoint_tokens}
        return parse_endpoints(
            self.ovi_space, tokens, self.hf_token, token_source=self.token_source
        )

    def for_endpoint(self, endpoint: Endpoint) -> Settings:
        """These settings for one endpoint: its address and its own token."""
        return replace(
            self,
            ovi_space=endpoint.src,
            hf_token=endpoint.token,
            token_source=endpoint.token_source,
        )


def _items(text: str) -> list[str]:
    """The entries of an endpoint list: split on commas and lines, comments and blanks out."""
    items = (part.strip() for part in re.split(r"[,\n]", text))
    return [item for item in items if item and not item.startswith("#")]


def _named_tokens(text: str, env: Mapping[str, str]) -> tuple[tuple[str, Secret], ...]:
    """The set variables an endpoint list names with @NAME (never raises: parsing comes later)."""
    found: dict[str, Secret] = {}
    for item in _items(text):
        match = TOKEN_VAR.search(item)
        value = env.get(match.group(0)[1:]) if match else None
        if match and value:
            found[match.group(0)[1:]] = Secret(value)
    return tuple(found.items())


def _url_secrets(text: str) -> list[str]:
    """The passwords in an endpoint list's URLs (never raises)."""
    found = []
    for item in _items(text):
        src = item.rpartition("@")[0] if TOKEN_VAR.search(item) else item
        credentials = url_credentials(src)
        if credentials:
            found.append(credentials)
    return found


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

    token_raw = opts.get("hf_token") or env.get("HF_TOKEN") or None
    token = Secret(str(token_raw)) if token_raw else None
    token_source = "--hf-token" if opts.get("hf_token") else "HF_TOKEN"
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
    space_text = str(opts.get("ovi_space") or env.get("OVI_SPACE") or DEFAULT_SPACE)
    spaces_file = env.get("F1GEN_SPACES_FILE")
    spaces_problem = None
    if spaces_file and not opts.get("ovi_space"):
        try:
            space_text = Path(spaces_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            spaces_problem = f"F1GEN_SPACES_FILE={spaces_file}: cannot read ({why})"
            space_text = ""
    # Endpoints are parsed when the ovi backend needs them; their secrets are known now, so that
    # every message is redacted whatever command runs.
    endpoint_tokens = _named_tokens(space_text, env)
    # Only to keep them out of messages: boto3 reads its own credentials chain.
    s3_secret = env.get("AWS_SECRET_ACCESS_KEY")
    fal_key, replicate_token = env.get("FAL_KEY"), env.get("REPLICATE_API_TOKEN")
    known = (
        token.reveal() if token else None,
        s3_secret,
        *(secret.reveal() for _, secret in endpoint_tokens),
        *_url_secrets(space_text),
        fal_key,
        replicate_token,
    )
    secrets = tuple(s for s in known if s)
    timeout_raw = opts.get("clip_timeout_minutes", env.get("F1GEN_CLIP_TIMEOUT_MINUTES"))
    timeout = (
        DEFAULT_CLIP_TIMEOUT
        if timeout_raw in (None, "")
        else 60.0 * _int_setting("F1GEN_CLIP_TIMEOUT_MINUTES", str(timeout_raw))
    )
    return Settings(
        ffmpeg=str(opts.get("ffmpeg") or env.get("F1GEN_FFMPEG") or "") or None,
        hf_token=token,
        ovi_space=space_text,
        endpoint_tokens=endpoint_tokens,
        spaces_problem=spaces_problem,
        sample_steps=steps,
        token_source=token_source,
        clip_timeout=timeout,
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
        fal_key=Secret(fal_key) if fal_key else None,
        fal_queue_host=env.get("FAL_QUEUE_RUN_HOST") or DEFAULT_FAL_QUEUE_HOST,
        replicate_token=Secret(replicate_token) if replicate_token else None,
        replicate_base_url=env.get("REPLICATE_BASE_URL") or None,
        ovi_app_url=str(opts.get("ovi_app_url") or env.get("OVI_APP_URL") or DEFAULT_OVI_APP),
        ovi_model=str(opts.get("ovi_model") or env.get("OVI_MODEL") or "") or None,
        resend_unknown=bool(opts.get("resend_unknown")),
        checks=_bool_setting("F1GEN_CHECKS", opts.get("checks"), env.get("F1GEN_CHECKS")),
        secrets=secrets,
    )
