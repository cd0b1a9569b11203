"""What the Space backend reads from the environment: HF_TOKEN, OVI_SPACE (one endpoint or a
list, each with its own token by @NAME) or the F1GEN_SPACES_FILE it may come from.

Endpoints are parsed when the backend is built or checked, so that a bad one never stops another
backend, status or stitch; their secrets are known at once, so that every message is redacted
whatever command runs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import ConfigError
from ..settings import Secret, Setting, Settings

DEFAULT_SPACE = "alexnasa/Ovi-ZEROGPU"
TOKEN_VAR = re.compile(r"@[A-Z_][A-Z0-9_]*$")
SETTINGS = (
    Setting("hf_token", env="HF_TOKEN", secret=True),
    Setting("ovi_space", env="OVI_SPACE", default=DEFAULT_SPACE),
)


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


def derived(
    env: Mapping[str, str], options: Mapping[str, object], values: Mapping[str, object]
) -> dict[str, object]:
    """The endpoint list (from F1GEN_SPACES_FILE unless --space is given), the tokens its @NAMEs
    name, the passwords in its URLs, and where the token came from."""
    space_text = str(values.get("ovi_space") or DEFAULT_SPACE)
    spaces_file = env.get("F1GEN_SPACES_FILE")
    spaces_problem = None
    if spaces_file and not options.get("ovi_space"):
        try:
            space_text = Path(spaces_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            spaces_problem = f"F1GEN_SPACES_FILE={spaces_file}: cannot read ({why})"
            space_text = ""
    return {
        "ovi_space": space_text,
        "endpoint_tokens": _named_tokens(space_text, env),
        "spaces_problem": spaces_problem,
        "token_source": "--hf-token" if options.get("hf_token") else "HF_TOKEN",
        "url_secrets": tuple(Secret(s) for s in _url_secrets(space_text)),
    }


def endpoints(settings: Settings) -> tuple[Endpoint, ...]:
    """The Ovi endpoints, each with its token; ConfigError naming what is wrong with them."""
    problem = settings.value("spaces_problem")
    if problem:
        raise ConfigError(str(problem))
    named = settings.value("endpoint_tokens")
    pairs = named if isinstance(named, tuple) else ()
    tokens = {name: secret.reveal() for name, secret in pairs}
    return parse_endpoints(
        settings.text("ovi_space"),
        tokens,
        settings.secret("hf_token"),
        token_source=settings.text("token_source") or "HF_TOKEN",
    )


def for_endpoint(settings: Settings, endpoint: Endpoint) -> Settings:
    """These settings for one endpoint: its address and its own token."""
    return settings.with_values(
        ovi_space=endpoint.src, hf_token=endpoint.token, token_source=endpoint.token_source
    )
