"""Check results kept in the work folder (checks.json), so a take is analysed once."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ..files import file_digest, write_atomic
from .model import CHECKS_VERSION, TakeChecks

CACHE = "checks.json"


class CheckCache:
    """Check results kept in the work folder, keyed by the clip's bytes, the line and the prompt."""

    def __init__(self, workdir: Path) -> None:
        self.path = workdir / CACHE
        self._entries: dict[str, Any] = self._read()
        self._speech: dict[str, Any] = self._read("speech")
        self._floors: dict[str, Any] = self._read("floors")

    def _read(self, part: str = "takes") -> dict[str, Any]:
        """The entries on disk (or the speech found in clips); none when there is no cache yet
        or a damaged one."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}  # the checks run again
        if not isinstance(data, dict) or data.get("version") != CHECKS_VERSION:
            return {}
        found = data.get(part)
        return dict(found) if isinstance(found, dict) else {}

    def speech_of(self, digest: str) -> tuple[tuple[float, float], ...] | None:
        """Where speech is in the clip whose bytes' sha256 is digest (seconds of its sound
        track, as the take checks' VAD found it), if known."""
        found = self._speech.get(digest)
        try:
            return tuple((float(a), float(b)) for a, b in found) if found is not None else None
        except (TypeError, ValueError):
            return None

    def put_speech(self, digest: str, segments: tuple[tuple[float, float], ...]) -> None:
        """Remember where speech is in a clip (saved by save())."""
        self._speech[digest] = [[round(a, 4), round(b, 4)] for a, b in segments]

    def floor_of(self, part: str) -> tuple[bool, float | None]:
        """Whether the stitch measured the background floor (dBFS) of a clip's part (a clip's
        digest, and its trim when trimmed), and what it found (None: digital silence)."""
        if part not in self._floors:
            return False, None
        value = self._floors[part]
        return (True, float(value)) if isinstance(value, int | float) else (value is None, None)

    def put_floor(self, part: str, floor: float | None) -> None:
        """Remember the background floor the stitch measured (saved by save())."""
        self._floors[part] = round(floor, 3) if floor is not None else None

    @staticmethod
    def key(clip: Path, *, line: str | None, prompt: str | None) -> str:
        """What decides a take's checks."""
        return CheckCache.key_of(file_digest(clip), line=line, prompt=prompt)

    @staticmethod
    def key_of(digest: str, *, line: str | None, prompt: str | None) -> str:
        """The key of a take whose bytes' sha256 is digest."""
        text = json.dumps([digest, line, prompt])
        return hashlib.sha256(text.encode()).hexdigest()

    def get(self, key: str) -> TakeChecks | None:
        """The cached result, if any."""
        entry = self._entries.get(key)
        try:
            return TakeChecks.from_dict(entry) if isinstance(entry, dict) else None
        except (KeyError, TypeError, ValueError):
            return None

    def put(self, key: str, result: TakeChecks) -> None:
        """Remember a result (saved by save())."""
        self._entries[key] = result.as_dict()

    def save(self) -> None:
        """Write the cache atomically, with what other commands kept meanwhile (a review during
        a run): an entry is decided by its key, so theirs and ours never disagree."""
        self._entries = {**self._read(), **self._entries}
        self._speech = {**self._read("speech"), **self._speech}
        self._floors = {**self._read("floors"), **self._floors}
        data = {"version": CHECKS_VERSION, "takes": self._entries, "speech": self._speech,
                "floors": self._floors}  # fmt: skip
        write_atomic(self.path, (json.dumps(data, indent=1) + "\n").encode("utf-8"))
