"""Settings as values: the Secret type, what a backend declares it reads (Setting), and the
resolved Settings every layer is handed (config.py resolves them: option > environment > default).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

DEFAULT_SAMPLE_STEPS = 40
MIN_SAMPLE_STEPS, MAX_SAMPLE_STEPS = 10, 100  # the storyboard's range too
DEFAULT_CLIP_TIMEOUT = 15 * 60.0


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
class Setting:
    """One value a backend reads: its command-line option, else its environment variable, else
    its default. A secret comes back as a Secret (or None) and is kept out of every message."""

    name: str  # how the backend asks for it: settings.text("fal_queue_host")
    env: str | None = None
    default: str | bool | None = None
    secret: bool = False

    def read(self, env: Mapping[str, str], options: Mapping[str, object]) -> object:
        """This setting's value, with the precedence option > environment > default."""
        raw = options.get(self.name) or (env.get(self.env) if self.env else None) or self.default
        if self.secret:
            return Secret(str(raw)) if raw else None
        return raw


@dataclass(frozen=True)
class Settings:
    """Everything configurable, resolved once by config.load_settings; what a backend declared
    for itself is in `declared`, read with secret(), text() and flag()."""

    ffmpeg: str | None = None
    sample_steps: int = DEFAULT_SAMPLE_STEPS
    clip_timeout: float = DEFAULT_CLIP_TIMEOUT
    busy_retries: int = 6
    backoff_seconds: float = 15.0
    bucket: str | None = None
    s3_endpoint: str | None = None
    public_url: str | None = None
    link_seconds: int = 7 * 24 * 3600
    s3_attempts: int = 5
    checks: bool = True  # check every take in the run (--no-checks, F1GEN_CHECKS=0: off)
    declared: tuple[tuple[str, object], ...] = field(default=(), repr=False)
    secrets: tuple[str, ...] = field(default=(), repr=False)

    def redact(self, text: str) -> str:
        """Text with every known secret replaced by ***."""
        for secret in self.secrets:
            if secret:
                text = text.replace(secret, "***")
        return text

    def value(self, name: str) -> object:
        """What a backend declared as name (None when no registered backend declares it)."""
        return dict(self.declared).get(name)

    def secret(self, name: str) -> Secret | None:
        """A declared secret, or None when it is not set."""
        found = self.value(name)
        return found if isinstance(found, Secret) else None

    def text(self, name: str) -> str:
        """A declared text setting ('' when it is not set)."""
        found = self.value(name)
        return found if isinstance(found, str) else ""

    def flag(self, name: str) -> bool:
        """A declared on/off setting."""
        return bool(self.value(name))

    def with_values(self, **values: object) -> Settings:
        """These settings with some declared values replaced (one endpoint's address, say)."""
        return replace(self, declared=tuple({**dict(self.declared), **values}.items()))

    def __getattr__(self, name: str) -> object:
        # Declared settings read as attributes too (settings.ovi_space), for callers that know
        # which backend declared them; typed code uses secret(), text() and flag().
        declared = self.__dict__.get("declared", ())
        for key, found in declared:
            if key == name:
                return found
        raise AttributeError(name)
