"""What a check says of a take: a name, a number, a level and a plain reason."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Level = Literal["pass", "warn", "fail"]
LEVELS: tuple[Level, ...] = ("pass", "warn", "fail")
# Bump when a check or a threshold changes, so that cached results are computed again.
CHECKS_VERSION = 3  # 2: the frozen check follows a slow drift; 3: the voice embedding


@dataclass(frozen=True)
class Check:
    """One check of one take; a failed hard check makes the take a failed attempt."""

    name: str
    level: Level
    value: float | None
    unit: str
    reason: str
    hard: bool = False

    @property
    def shown(self) -> str:
        """The number with its unit, e.g. '2.4 s' or '80%'."""
        if self.value is None:
            return "-"
        if self.unit == "%":
            return f"{self.value:g}%"
        return f"{self.value:.1f} {self.unit}".rstrip()


@dataclass(frozen=True)
class TakeChecks:
    """Every check of one take, and how long the analysis took."""

    take: str
    checks: tuple[Check, ...]
    notes: tuple[str, ...] = ()
    seconds: float = 0.0
    # Where speech is (seconds of the take's sound track): kept apart, by the clip's bytes (the
    # cache's speech_of), for the stitch's mix; not part of the checks' record.
    speech: tuple[tuple[float, float], ...] | None = field(default=None, compare=False)
    voice: tuple[float, ...] | None = None  # the speech's speaker embedding (checks/voice.py)

    @property
    def rejected(self) -> bool:
        """True when a hard check failed: the take is a failed attempt, whatever else it has."""
        return any(c.hard and c.level == "fail" for c in self.checks)

    def named(self, name: str) -> Check | None:
        """The check called name, if it ran."""
        return next((c for c in self.checks if c.name == name), None)

    def count(self, level: Level) -> int:
        """How many checks are at level."""
        return sum(c.level == level for c in self.checks)

    @property
    def worst(self) -> Level:
        """The worst level of any check ('pass' when none ran)."""
        return max((c.level for c in self.checks), key=LEVELS.index, default="pass")

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "take": self.take,
            "rejected": self.rejected,
            "checks": [asdict(c) for c in self.checks],
            "notes": list(self.notes),
            "seconds": round(self.seconds, 3),
            "voice": list(self.voice) if self.voice is not None else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TakeChecks:
        """The inverse of as_dict."""
        voice = data.get("voice")
        return cls(
            take=str(data["take"]),
            checks=tuple(Check(**c) for c in data["checks"]),
            notes=tuple(data.get("notes", ())),
            seconds=float(data.get("seconds", 0.0)),
            voice=tuple(float(v) for v in voice) if isinstance(voice, list) else None,
        )
