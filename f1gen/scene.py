"""The storyboard as data: frozen scenes every layer shares (storyboard.py loads them from YAML)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Fit = Literal["cover", "contain"]


@dataclass(frozen=True)
class Scene:
    """One validated scene: a character image to animate, or footage to cut in."""

    number: int
    id: str
    action: str
    speech: str | None
    atmosphere: str | None
    sample_steps: int | None  # the scene's own: it beats --sample-steps
    fit: Fit
    image: Path | None = None
    footage: Path | None = None
    trim: tuple[float, float] | None = None
    seed: int | None = None  # None: the run's --seed, else the backend's own choice
    board_steps: int | None = None  # defaults.sample_steps: --sample-steps beats it
    takes: int | None = None  # the scene's own: it beats --takes
    board_takes: int | None = None  # defaults.takes: --takes beats it

    @property
    def label(self) -> str:
        """How messages name this scene: scenes[3] (pit-wall)."""
        return f"scenes[{self.number}] ({self.id})"

    @property
    def generated(self) -> bool:
        """True when a backend makes this scene's clip, False for footage."""
        return self.footage is None


@dataclass(frozen=True)
class Storyboard:
    """A validated storyboard; scene numbers count from 1."""

    path: Path
    title: str
    scenes: tuple[Scene, ...]

    @property
    def stem(self) -> str:
        """The name of the storyboard's work folder under out/."""
        return self.path.stem
