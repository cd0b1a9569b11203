"""Choosing the best of several takes of a scene by their checks, and saying why."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .model import TakeChecks


@dataclass(frozen=True)
class Choice:
    """The take picked (its index in the takes given), whether it is usable, and why."""

    index: int
    take: str
    usable: bool
    reason: str


def summary(take: TakeChecks) -> str:
    """A take's checks in a few words: 'passes every check', 'fails words, cut-off', and its
    voice first when it was judged: "Max's voice (0.91); passes every check"."""
    failed = [c.name for c in take.checks if c.level == "fail" and c.name != "voice"]
    warned = [c.name for c in take.checks if c.level == "warn" and c.name != "voice"]
    voice = take.named("voice")
    parts = [voice.reason] if voice is not None else []
    if failed:
        parts.append(f"fails {', '.join(failed)}")
    if warned:
        parts.append(f"warns on {', '.join(warned)}")
    if not failed and not warned:
        parts.append("passes every other check" if voice else "passes every check")
    return "; ".join(parts)


def _score(take: TakeChecks) -> tuple[float, ...]:
    words = take.named("words")
    extra = take.named("extra speech")
    voice = take.named("voice")
    return (
        0.0 if take.rejected else 1.0,
        0.0 if voice is not None and voice.level != "pass" else 1.0,  # in its character's voice
        -take.count("fail"),
        -take.count("warn"),
        voice.value if voice is not None and voice.value is not None else 0.0,  # the closest
        words.value if words and words.value is not None else 0.0,
        -(extra.value or 0.0) if extra else 0.0,
    )


def choose(takes: Sequence[TakeChecks]) -> Choice:
    """The best take: not rejected, then in its character's voice (when judged), fewest failures,
    fewest warnings, closest to the character's voice, most of the line heard.

    Ties go to the earlier take, so a choice never changes when an equal take is added.
    """
    if not takes:
        raise ValueError("choose() needs at least one take")
    best = max(range(len(takes)), key=lambda i: (_score(takes[i]), -i))
    pick = takes[best]
    usable = not pick.rejected
    if len(takes) == 1:
        reason = f"the only take: {summary(pick)}"
    else:
        others = "; ".join(f"{t.take}: {summary(t)}" for i, t in enumerate(takes) if i != best)
        reason = f"{summary(pick)} (others: {others})"
    if not usable:
        reason = f"no usable take: every take failed a hard check; {reason}"
    return Choice(best, pick.take, usable, reason)
