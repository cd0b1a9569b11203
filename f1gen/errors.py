"""One error base class, a subclass per stage, each mapped to a documented exit code."""

from __future__ import annotations

from datetime import datetime
from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes of every f1gen command (README: "Exit codes")."""

    OK = 0
    FAILED = 1
    BAD_INPUT = 2
    CONFIG = 3
    RESUMABLE = 75
    INTERRUPTED = 130


class F1genError(Exception):
    """Base of every error f1gen expects; its message is one line that says what to do."""

    exit_code: ExitCode = ExitCode.FAILED

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class BadInputError(F1genError):
    """A file, option or argument the user gave cannot be used."""

    exit_code = ExitCode.BAD_INPUT


class StoryboardError(BadInputError):
    """The storyboard has one or more problems; each is a line naming file, scene and field."""

    def __init__(self, problems: list[str]) -> None:
        first = problems[0] if problems else "storyboard is invalid"
        more = f" (and {len(problems) - 1} more: run 'f1gen validate')" if len(problems) > 1 else ""
        super().__init__(first + more)
        self.problems = problems


class ConfigError(F1genError):
    """Settings, credentials or an external service's shape make the run impossible."""

    exit_code = ExitCode.CONFIG


class ResumableStop(F1genError):
    """The run stopped early on purpose (lock held, quota, window); re-running resumes it."""

    exit_code = ExitCode.RESUMABLE


class LockedError(ResumableStop):
    """Another f1gen process holds the work folder."""


class QuotaExceeded(ResumableStop):
    """The GPU quota is used up; retry_at says when the Space said to come back (UTC)."""

    def __init__(self, message: str, *, retry_at: datetime | None = None) -> None:
        super().__init__(message)
        self.retry_at = retry_at


class BackendBusy(ResumableStop):
    """A backend's endpoint stayed busy or unreachable through every retry (the message names
    the endpoint); last is its final answer."""

    def __init__(self, message: str, *, last: str = "") -> None:
        super().__init__(message)
        self.last = last


class StorageUnavailable(ResumableStop):
    """The bucket cannot be reached now (outage, 5xx, throttling): clips stay local until push."""


class ChecksumMismatch(F1genError):
    """An object in the bucket is not what was uploaded: retrying later will not change it."""


class HeldBack(F1genError):
    """A paid request may already be at a provider that cannot be searched: the scene waits
    for the user's word (--resend-unknown); retrying cannot tell more, so it is not retried."""

    exit_code = ExitCode.RESUMABLE


class MediaError(F1genError):
    """ffmpeg or the media probe failed, or a clip does not meet its specification."""


class ClipRejected(MediaError):
    """A generated clip failed its checks and was not accepted."""


class GenerationError(F1genError):
    """A backend failed to produce a clip this time; another attempt may succeed."""


class StitchError(F1genError):
    """The final cut cannot be made yet, or ffmpeg failed while making it."""


class WriteError(F1genError):
    """A file could not be written (disk full, permissions); what was there before is intact."""


class StateError(BadInputError):
    """The run state file cannot be used: missing, damaged, untrusted or too new (exit 2)."""
