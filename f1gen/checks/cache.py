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

    def _read(self) -> dict[str, Any]:
        """The entries on disk; none when there is no cache yet or a damaged one."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}  # the checks run again
        if not isinstance(data, dict) or data.get("version") != CHECKS_VERSION:
            return {}
        takes = data.get("takes")
        return dict(takes) if isinstance(takes, dict) else {}

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
        data = {"version": CHECKS_VERSION, "takes": self._entries}
        write_atomic(self.path, (json.dumps(data, indent=1) + "\n").encode("utf-8"))
