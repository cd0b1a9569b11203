"""The request ledger: never pay twice for one clip.

A hosted provider charges for every request it accepts. So before f1gen waits for one, its id
is written down here, durably (temp file, fsync, rename, fsync of the folder), and the next run
that needs the same clip follows that request instead of sending a new one:

    (none) --write "sending" + marker--> send --reply--> "submitted" + id --result--> "fetched"

- "sending": the request may or may not have reached the provider (f1gen died, or the
  connection dropped, between sending and reading the reply). The next run looks it up by its
  marker, the digest of the whole input it sent, where the provider can be searched
  (Replicate); where it cannot (fal), the scene is
  held back until the user says to send it again (`--resend-unknown`).
- "submitted": the provider has it; the next run polls it by id (its result or its failure).
- "fetched": the result is in `requests/` (hard-linked to the take the runner was given). A
  later run that finds nobody accepted it (a kill before the state was saved) uses it again;
  within the run that fetched it, asking again means the take was rejected: send a new one.

Entries are keyed by scene id and clip fingerprint, so an edited scene never picks up the old
scene's request. One ledger object is shared by every lane of a run (a lock guards it); the
work-folder lock keeps other processes out. The lead folds this into state.json later.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from .errors import StateError
from .files import write_atomic
from .state import now_iso

LEDGER_VERSION = 1
Stage = Literal["sending", "submitted", "fetched"]


@dataclass(frozen=True)
class PaidRequest:
    """One request f1gen sent (or was sending) for one scene's clip."""

    key: str  # "<scene id>@<fingerprint>"
    backend: str  # the backend identity
    marker: str  # the digest of its input: how it is found at the provider if its id was never seen
    stage: Stage
    since: str  # when the sending began (UTC, ISO 8601)
    request_id: str | None = None
    detail: dict[str, str] = field(default_factory=dict)  # provider URLs; never a secret
    result: str | None = None  # the fetched clip, relative to the work folder
    cost_usd: float = 0.0
    run: str | None = None  # the run that fetched it


def request_key(scene_id: str, fingerprint: str) -> str:
    """The ledger key of a scene's clip."""
    return f"{scene_id}@{fingerprint}"


class Ledger:
    """requests.json in a work folder: paid requests by scene, written before any wait."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.path = workdir / "requests.json"
        self.run = uuid.uuid4().hex  # this process's run
        self._lock = threading.Lock()
        self._entries: dict[str, PaidRequest] | None = None

    def get(self, key: str) -> PaidRequest | None:
        """The request recorded for key, if any."""
        with self._lock:
            return self._load().get(key)

    def entries(self) -> list[PaidRequest]:
        """Every recorded request."""
        with self._lock:
            return list(self._load().values())

    def sending(self, key: str, *, backend: str, marker: str) -> PaidRequest:
        """Record, before anything is sent, that a request for key is about to go out."""
        entry = PaidRequest(key, backend, marker, "sending", now_iso())
        return self._put(entry)

    def submitted(self, key: str, request_id: str, detail: dict[str, str]) -> PaidRequest:
        """Record the id the provider gave the request for key."""
        return self._change(key, stage="submitted", request_id=request_id, detail=dict(detail))

    def fetched(self, key: str, result: str, cost_usd: float) -> PaidRequest:
        """Record that the result of key's request is on disk at result."""
        return self._change(key, stage="fetched", result=result, cost_usd=cost_usd, run=self.run)

    def paid_for(self, key: str, clip: Path) -> float | None:
        """What key's fetched request cost, when clip is its result (a take a killed run kept
        before its state was saved); None when the ledger knows nothing of it."""
        entry = self.get(key)
        if entry is None or entry.stage != "fetched" or entry.result is None:
            return None
        try:
            same = (self.workdir / entry.result).samefile(clip)
        except OSError:
            return None
        return entry.cost_usd if same else None

    def forget(self, key: str) -> None:
        """Drop key's request: it is used up, failed, or never reached the provider."""
        with self._lock:
            entries = self._load()
            if entries.pop(key, None) is not None:
                self._save(entries)

    # Private: loading and durable writes.

    def _put(self, entry: PaidRequest) -> PaidRequest:
        with self._lock:
            entries = self._load()
            entries[entry.key] = entry
            self._save(entries)
            return entry

    def _change(self, key: str, **changes: Any) -> PaidRequest:
        with self._lock:
            entries = self._load()
            entry = entries[key] = replace(entries[key], **changes)
            self._save(entries)
            return entry

    def _load(self) -> dict[str, PaidRequest]:
        if self._entries is None:
            self._entries = self._read()
        return self._entries

    def _read(self) -> dict[str, PaidRequest]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise StateError(f"{self.path}: cannot read: {exc.strerror}") from None
        problem = (
            f"{self.path}: damaged request ledger: it lists requests already paid for; "
            "repair it or move it aside (a moved ledger may make f1gen pay twice)"
        )
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or data.get("version") != LEDGER_VERSION:
                raise StateError(problem)
            return {
                key: PaidRequest(**{**value, "detail": dict(value.get("detail") or {})})
                for key, value in data["requests"].items()
            }
        except (ValueError, KeyError, TypeError, AttributeError):
            raise StateError(problem) from None

    def _save(self, entries: dict[str, PaidRequest]) -> None:
        data = {
            "version": LEDGER_VERSION,
            "requests": {key: asdict(entry) for key, entry in sorted(entries.items())},
        }
        write_atomic(self.path, (json.dumps(data, indent=2) + "\n").encode("utf-8"))
