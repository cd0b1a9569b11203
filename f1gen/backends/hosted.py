"""Hosted Ovi APIs (fal.ai, Replicate): submit, record the id, follow, fetch; never pay twice.

Each provider module (fal.py, replicate.py) is the one door to its service: it sends, polls,
searches and classifies its own client library's exceptions. This module holds what they share:
the ledger protocol (see f1gen/ledger.py), polling with progress, backoff for a busy provider,
the download of the output (with no credentials: output URLs are public CDN links), and the
translation of a verdict into f1gen's errors.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from ..errors import (
    BackendBusy,
    ConfigError,
    F1genError,
    GenerationError,
    HeldBack,
    QuotaExceeded,
)
from ..ledger import Ledger, PaidRequest, request_key
from ..settings import Setting
from . import Backend, BackendUpdate, ClipRequest, ClipTiming, Factory, Probe, Report
from .traits import Verdict

if TYPE_CHECKING:
    from ..settings import Settings

# What every hosted queue reads: whether to send again a request whose sending was cut off.
HOSTED_SETTINGS = (Setting("resend_unknown", default=False),)


@dataclass(frozen=True)
class Submitted:
    """What a provider answered to a submit: the request's id and the URLs to follow it."""

    request_id: str
    detail: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Poll:
    """A request's state at the provider."""

    state: Literal["queued", "running", "succeeded", "failed"]
    position: int | None = None  # place in the queue (0: next)
    progress: float | None = None
    output: str | None = None  # the clip's URL once succeeded
    error: str | None = None  # why it failed
    gpu_seconds: float | None = None  # what the provider says the run took


class Provider(Protocol):
    """One hosted service behind its client library (the only code that imports it)."""

    name: str
    can_search: bool  # can a request whose id was never seen be found by what it sent?

    @property
    def identity(self) -> str:
        """What makes two providers' clips differ (model and address)."""
        ...

    def check(self) -> str:
        """What doctor shows when the provider can be used (a key is set, never shown); raise
        ConfigError with the fix when it cannot. Spends nothing."""
        ...

    def inputs(self, request: ClipRequest, *, seed: int | None) -> dict[str, Any]:
        """The model's input for request."""
        ...

    def submit(self, inputs: Mapping[str, Any]) -> Submitted:
        """Send one request; exceptions are the client library's own."""
        ...

    def poll(self, entry: PaidRequest) -> Poll:
        """The state of a submitted request."""
        ...

    def find(self, entry: PaidRequest) -> Submitted | None:
        """The newest request sent since entry.since whose input is entry.marker's (see
        sent_as), if the provider has it."""
        ...

    def cancel(self, entry: PaidRequest) -> None:
        """Ask the provider to drop a request (best effort)."""
        ...

    def classify(self, exc: BaseException) -> Verdict | None:
        """The failure table: what an exception from the client library means."""
        ...

    def describe(self, exc: BaseException) -> str:
        """One line for an exception (never a secret)."""
        ...

    def fatal_message(self, exc: BaseException, detail: str) -> str:
        """What to fix, for a FATAL failure."""
        ...

    def quota_message(self, detail: str) -> str:
        """What to do, for a QUOTA (credit) failure."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class ReplyLost(Exception):
    """A request went out but its reply never came: it may or may not be at the provider."""


def sent_but_unanswered(exc: BaseException) -> bool:
    """True when a request may have reached the server although no reply came back."""
    import httpx

    if isinstance(exc, ReplyLost):
        return True
    not_sent = (
        httpx.ConnectError,
        httpx.ConnectTimeout,
        httpx.PoolTimeout,
        httpx.UnsupportedProtocol,
    )
    return isinstance(exc, httpx.TransportError) and not isinstance(exc, not_sent)


def input_marker(inputs: Mapping[str, Any]) -> str:
    """What identifies a request by what was sent (prompt, image, seed, steps...): the digest
    of the whole input, and the digest without its files (a provider may keep an uploaded file
    under a URL of its own and show that instead)."""
    return f"{_digest(inputs, files=True)}:{_digest(inputs, files=False)}"


def sent_as(marker: str, inputs: Mapping[str, Any]) -> bool:
    """True when a request the provider shows with inputs is the one recorded under marker."""
    if marker.isdigit():  # a ledger written before whole-input markers: the seed was the marker
        return inputs.get("seed") == int(marker)
    whole, _, bare = marker.partition(":")
    if _digest(inputs, files=True) == whole:
        return True
    rewritten = any(_is_url(v) for v in inputs.values())  # a file shown as the provider's URL
    return rewritten and _digest(inputs, files=False) == bare


def _is_url(value: object) -> bool:
    return isinstance(value, str) and value.startswith(("https://", "http://"))


def _digest(inputs: Mapping[str, Any], *, files: bool) -> str:
    """sha256 of the input as canonical JSON; a data URI by its own digest, or left out."""
    shown: dict[str, Any] = {}
    for name, value in inputs.items():
        is_file = isinstance(value, str) and (value.startswith("data:") or _is_url(value))
        if is_file and not files:
            continue
        if isinstance(value, str) and value.startswith("data:"):
            value = "sha256:" + hashlib.sha256(value.encode()).hexdigest()
        shown[name] = value
    text = json.dumps(shown, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def lanes(
    provider: Provider,
    *,
    declared: Factory,
    settings: Settings,
    workdir: Path,
    parallel: int | None,
) -> list[Backend]:
    """N lanes of one hosted backend: one object, thread-safe, sharing the key and the ledger."""
    hosted = HostedBackend(provider, declared=declared, settings=settings, ledger=Ledger(workdir))
    return [hosted] * (parallel or declared.default_parallel)


def probes(provider: Provider) -> list[Probe]:
    """What doctor checks of a hosted backend: its key (nothing is sent)."""
    return [Probe(provider.name, provider.check)]


class HostedBackend:
    """Makes clips on a hosted provider; one object serves every lane."""

    def __init__(
        self,
        provider: Provider,
        *,
        declared: Factory,
        settings: Settings,
        ledger: Ledger,
        poll_seconds: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.provider = provider
        self.name = declared.name
        self.spec = declared.spec
        self.price = declared.price
        self.accepts_seed = declared.accepts_seed
        self.settings = settings
        self.ledger = ledger
        self.poll_seconds = poll_seconds
        self._interrupted = threading.Event()
        self.clock, self.sleep = clock, sleep or self._pause
        self.results = ledger.workdir / "requests"
        self._pruned = False
        self._prune_lock = threading.Lock()
        self._waits = threading.local()  # each lane's backoff in the clip it is making

    @property
    def identity(self) -> str:
        """Clips depend on the provider and its model."""
        return self.provider.identity

    @property
    def account(self) -> str:
        """Paid per request from the provider's key: there is no quota window to remember."""
        return self.provider.name

    def prepare(self, report: Report) -> None:
        """Check the key is there; nothing is sent."""
        self.provider.check()

    def interrupt(self) -> None:
        """Stop following requests soon; they stay in the ledger for the next run."""
        self._interrupted.set()

    def close(self) -> None:
        """Forget the results takes now hold; close the provider's connections."""
        self._sweep()
        self.provider.close()

    def generate(self, request: ClipRequest, dest: Path, report: Report) -> ClipTiming:
        """Follow the scene's recorded request, or submit one; write its clip to dest."""
        self._waits.seconds = 0.0
        timing = self._make(request, dest, report)
        return replace(timing, backoff_seconds=self._waits.seconds)

    def _make(self, request: ClipRequest, dest: Path, report: Report) -> ClipTiming:
        self._prune()
        key = request_key(request.scene.id, request.fingerprint)
        entry = self.ledger.get(key)
        if entry is not None and entry.stage == "fetched":
            cached = self.ledger.workdir / str(entry.result)
            if entry.run != self.ledger.run and cached.is_file():
                report(
                    BackendUpdate(
                        f"using {entry.request_id}, fetched by an earlier run", notable=True
                    )
                )
                _link(cached, dest)
                return ClipTiming(cost_usd=entry.cost_usd)
            self._drop(entry)  # this run fetched it and asks again: that take was rejected
            entry = None
        if entry is not None and entry.stage == "sending":
            entry = self._recover(entry, report)
        if entry is None:
            entry = self._submit(key, request, report)
        elif entry.stage == "submitted":
            report(
                BackendUpdate(f"following {entry.request_id}, sent by an earlier run", notable=True)
            )
        return self._follow(entry, dest, report)

    # Private: submitting, recovering, following, fetching.

    def _submit(self, key: str, request: ClipRequest, report: Report) -> PaidRequest:
        # Without a seed the provider is sent a random one: it would pick one anyway, and it
        # makes this request's input unlike any other this scene sent before.
        seed = request.seed if request.seed is not None else secrets.randbelow(2**31)
        inputs = self.provider.inputs(request, seed=seed if self.accepts_seed else None)
        marker = input_marker(inputs)
        entry = self.ledger.sending(key, backend=self.identity, marker=marker)
        report(BackendUpdate("submitting"))
        failures = 0
        while True:
            try:
                submitted = self.provider.submit(inputs)
                break
            except Exception as exc:
                if sent_but_unanswered(exc):
                    found = self._recover(entry, report)
                    if found is not None:
                        return found
                    entry = self.ledger.sending(key, backend=self.identity, marker=marker)
                failures = self._busy_or_raise(exc, failures, report, forget=key)
        return self.ledger.submitted(key, submitted.request_id, submitted.detail)

    def _recover(self, entry: PaidRequest, report: Report) -> PaidRequest | None:
        """A request whose reply never came: look it up, never send it blind a second time."""
        if not self.provider.can_search:
            if self.settings.flag("resend_unknown"):
                self.ledger.forget(entry.key)
                return None
            raise HeldBack(
                f"held back: a request for it may already be paid on {self.name} (f1gen "
                f"stopped while sending it at {entry.since}, and {self.name} cannot be searched)"
            )
        failures = 0
        while True:
            try:
                found = self.provider.find(entry)
                break
            except Exception as exc:
                failures = self._busy_or_raise(exc, failures, report)
        if found is None:  # it never arrived: sending it is not sending it twice
            self.ledger.forget(entry.key)
            return None
        report(
            BackendUpdate(
                f"found {found.request_id}, sent before the connection was lost", notable=True
            )
        )
        return self.ledger.submitted(entry.key, found.request_id, found.detail)

    def _follow(self, entry: PaidRequest, dest: Path, report: Report) -> ClipTiming:
        started = self.clock()
        running_at: float | None = None
        limit = self.settings.clip_timeout
        failures, last = 0, ""
        while True:
            if self._interrupted.is_set():
                raise GenerationError(
                    f"interrupted: {entry.request_id} goes on at {self.name}; "
                    "the next run fetches it"
                )
            if self.clock() - started > limit:
                self.provider.cancel(entry)
                self.ledger.forget(entry.key)
                raise GenerationError(
                    f"no clip after {limit / 60:g} min: {entry.request_id} was cancelled"
                )
            try:
                poll = self.provider.poll(entry)
                failures = 0
            except Exception as exc:
                failures = self._busy_or_raise(exc, failures, report)
                continue
            if poll.state != "queued" and running_at is None:
                running_at = self.clock()
            if poll.state == "failed":
                self.ledger.forget(entry.key)
                raise GenerationError(
                    f"{self.name} request {entry.request_id} failed: "
                    f"{poll.error or 'no reason given'}"
                )
            if poll.state == "succeeded":
                break
            queued = poll.state == "queued" and poll.position is not None
            message = (
                f"queue {(poll.position or 0) + 1} at {self.name}"
                if queued
                else f"generating at {self.name}"
            )
            if message != last:
                report(BackendUpdate(message, poll.progress))
                last = message
            self.sleep(self.poll_seconds)
        queue_seconds = (running_at or self.clock()) - started
        if not poll.output:
            self.ledger.forget(entry.key)
            raise GenerationError(f"{self.name} request {entry.request_id} finished without a clip")
        gpu = (
            poll.gpu_seconds
            if poll.gpu_seconds is not None
            else self.clock() - (running_at or started)
        )
        cost = round(self.price.clip_usd(gpu), 4)
        cached = self._fetch(entry, poll.output, report)
        self.ledger.fetched(entry.key, str(cached.relative_to(self.ledger.workdir)), cost)
        _link(cached, dest)
        return ClipTiming(queue_seconds=queue_seconds, cost_usd=cost)

    def _fetch(self, entry: PaidRequest, url: str, report: Report) -> Path:
        """Download the output, without credentials, into requests/ (kept until a take holds it)."""
        import httpx

        self.results.mkdir(parents=True, exist_ok=True)
        name = "".join(c if c.isalnum() or c in "-_" else "_" for c in str(entry.request_id))
        target = self.results / f"{name}.mp4"
        partial = self.results / f".{name}.{os.getpid()}.part"
        failures = 0
        while True:
            try:
                with httpx.stream("GET", url, follow_redirects=True, timeout=60.0) as response:
                    response.raise_for_status()
                    with partial.open("wb") as out:
                        for chunk in response.iter_bytes(1 << 20):
                            out.write(chunk)
                break
            except httpx.HTTPStatusError as exc:
                partial.unlink(missing_ok=True)
                if exc.response.status_code in (404, 410):  # the provider already deleted it
                    self.ledger.forget(entry.key)
                    raise GenerationError(
                        f"{self.name} no longer has the clip of {entry.request_id}"
                    ) from None
                failures = self._busy_or_raise(exc, failures, report)
            except httpx.TransportError as exc:
                partial.unlink(missing_ok=True)
                failures = self._busy_or_raise(exc, failures, report)
        from ..files import move_durably

        move_durably(partial, target)
        return target

    def _busy_or_raise(
        self, exc: Exception, failures: int, report: Report, *, forget: str | None = None
    ) -> int:
        """Back off after a busy failure (returns the new count); raise anything else, mapped."""
        verdict = self._classify(exc)
        detail = self.settings.redact(self.provider.describe(exc))
        if verdict is Verdict.BUSY and failures + 1 < self.settings.busy_retries:
            wait = min(
                self.settings.backoff_seconds * 2**failures, self.settings.backoff_seconds * 20
            )
            report(
                BackendUpdate(
                    f"{self.name} is busy ({detail}); retry {failures + 1} in {wait:.0f} s",
                    notable=True,
                )
            )
            self.sleep(wait)
            self._waits.seconds = getattr(self._waits, "seconds", 0.0) + wait
            if self._interrupted.is_set():  # woken from the wait by Ctrl-C: ask nothing more
                if forget is not None:
                    self.ledger.forget(forget)
                raise GenerationError(f"interrupted while {self.name} was busy: re-run to go on")
            return failures + 1
        if forget is not None:  # the provider answered: the request was not taken
            self.ledger.forget(forget)
        raise self._translate(exc, verdict, detail) from None

    def _pause(self, seconds: float) -> None:
        """A wait (a poll, a backoff), cut short by interrupt(): requests run on lane threads."""
        self._interrupted.wait(seconds)

    def _classify(self, exc: BaseException) -> Verdict | None:
        import httpx

        if isinstance(exc, F1genError):
            return None
        verdict = self.provider.classify(exc)
        if verdict is None and isinstance(exc, httpx.HTTPStatusError):  # our own download
            code = exc.response.status_code
            verdict = Verdict.BUSY if code in (408, 429) or code >= 500 else Verdict.FAILED_RUN
        if verdict is None and isinstance(
            exc, httpx.TransportError | ConnectionError | TimeoutError
        ):
            verdict = Verdict.BUSY
        return verdict

    def _translate(self, exc: Exception, verdict: Verdict | None, detail: str) -> Exception:
        if isinstance(exc, F1genError):
            return exc
        if verdict is Verdict.BUSY:
            return BackendBusy(
                f"{self.name} stayed busy or unreachable through {self.settings.busy_retries} "
                f"tries (last: {detail}): the run is saved; re-run later",
                last=detail,
            )
        if verdict is Verdict.QUOTA:
            return QuotaExceeded(self.provider.quota_message(detail))
        if verdict is Verdict.FAILED_RUN:
            return GenerationError(detail)
        if verdict is Verdict.FATAL:
            return ConfigError(self.provider.fatal_message(exc, detail))
        return exc  # unexpected: a bug, let it surface

    def _prune(self) -> None:
        """Once per run, before the first clip: sweep what the last run left."""
        with self._prune_lock:
            if self._pruned:
                return
            self._pruned = True
        self._sweep()

    def _sweep(self) -> None:
        """Forget fetched results that a take holds (the runner accepted them)."""
        with self._prune_lock:
            for entry in self.ledger.entries():
                if entry.stage != "fetched":
                    continue
                cached = self.ledger.workdir / str(entry.result)
                try:
                    held = cached.stat().st_nlink > 1
                except FileNotFoundError:
                    self.ledger.forget(entry.key)
                    continue
                if held:
                    self._drop(entry)

    def _drop(self, entry: PaidRequest) -> None:
        self.ledger.forget(entry.key)
        if entry.result:
            (self.ledger.workdir / entry.result).unlink(missing_ok=True)


def _link(source: Path, dest: Path) -> None:
    """Give dest the fetched clip: a hard link (no copy, and it tells who holds it), else a copy."""
    try:
        os.link(source, dest)
    except OSError:
        shutil.copyfile(source, dest)
