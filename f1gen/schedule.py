"""Off-peak windows and run limits: when a new clip may start, and when a run should stop."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import BadInputError
from .words import counted

WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def parse_zone(name: str) -> tzinfo:
    """A time zone by IANA name ('UTC', 'Europe/London')."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadInputError(
            f"--tz {name!r} is not a time zone: use a name like UTC or Europe/London"
        ) from None


@dataclass(frozen=True)
class Window:
    """A daily time window, e.g. 22:00-06:00; one that ends before it starts crosses midnight."""

    start: time
    end: time
    zone: tzinfo

    @classmethod
    def parse(cls, text: str, zone: tzinfo) -> Window:
        """Window.parse('22:00-06:00', UTC); BadInputError naming the fix."""
        match = WINDOW.match(text)
        if match:
            h1, m1, h2, m2 = (int(g) for g in match.groups())
            if h1 < 24 and h2 < 24 and m1 < 60 and m2 < 60 and (h1, m1) == (h2, m2):
                raise BadInputError(
                    f"--window {text!r}: the window is empty (it opens and closes at "
                    f"{h1:02d}:{m1:02d}): give two different times, e.g. 22:00-06:00"
                )
            if h1 < 24 and h2 < 24 and m1 < 60 and m2 < 60:
                return cls(time(h1, m1), time(h2, m2), zone)
        raise BadInputError(f"--window {text!r}: write it as HH:MM-HH:MM, e.g. 22:00-06:00")

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M} {self.zone}"

    def _bounds(self, now: datetime) -> tuple[datetime, datetime]:
        """The window occurrence that contains now, or else the next one to open."""
        local = now.astimezone(self.zone)
        for days in (-1, 0, 1):
            day = local.date() + timedelta(days=days)
            opens = datetime.combine(day, self.start, self.zone)
            closes = datetime.combine(day, self.end, self.zone)
            if closes <= opens:
                closes += timedelta(days=1)
            if local < closes:
                return opens, closes
        raise AssertionError("unreachable: a window opens every day")

    def contains(self, now: datetime) -> bool:
        """True when now is inside the window."""
        opens, closes = self._bounds(now)
        return opens <= now < closes

    def closes_at(self, now: datetime) -> datetime:
        """When the window around now closes (or the next one, when outside)."""
        return self._bounds(now)[1]

    def opens_at(self, now: datetime) -> datetime:
        """When the window around now opened, or when the next one opens."""
        return self._bounds(now)[0]


@dataclass(frozen=True)
class Limits:
    """What may stop an unattended run early; None means no limit."""

    window: Window | None = None
    max_clips: int | None = None
    budget_seconds: float | None = None
    wait: bool = False
    max_cost: float | None = None  # USD this run may spend (hosted backends)


def stop_reason(
    limits: Limits, *, now: datetime, made: int, spent: float, expected: float
) -> str | None:
    """Why the next clip must not start (None: it may), said so that a person knows what next."""
    if limits.max_clips is not None and made >= limits.max_clips:
        return f"made {counted(made, 'clip')}, the --max-clips limit"
    if limits.budget_seconds is not None and spent + expected > limits.budget_seconds:
        return (
            f"the next clip (~{expected:.0f} s) would pass the --budget of "
            f"{limits.budget_seconds / 60:g} GPU minutes ({spent / 60:.1f} spent)"
        )
    window = limits.window
    if window is None:
        return None
    if not window.contains(now):
        return f"outside the window {window}; it opens at {_show(window.opens_at(now), window)}"
    closes = window.closes_at(now)
    if now + timedelta(seconds=expected) > closes:
        return (
            f"the next clip (~{expected:.0f} s) would overrun the window, which closes at "
            f"{_show(closes, window)}"
        )
    return None


def _show(moment: datetime, window: Window) -> str:
    return f"{moment.astimezone(window.zone):%Y-%m-%d %H:%M} {window.zone}"
