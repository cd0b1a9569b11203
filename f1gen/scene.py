"""The storyboard as data: frozen scenes every layer shares (storyboard.py loads them from YAML)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Fit = Literal["cover", "contain"]


@dataclass(frozen=True)
class Music:
    """Music under the whole cut: a gain (dB), how far it ducks under speech (dB), fades (s),
    and where in the file it starts (s). Looped to the cut's length, or trimmed."""

    file: Path
    volume: float = -18.0
    duck: float = 12.0
    fade_in: float = 1.0
    fade_out: float = 2.0
    start: float = 0.0


@dataclass(frozen=True)
class Ambience:
    """An ambience bed: a sound looped under the cut from where it is named, ducked under
    speech."""

    file: Path
    volume: float = -20.0
    duck: float = 6.0


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
    music_off: bool = False  # `music: off`: a silence in the music over this scene
    ambience: Ambience | None = None  # a bed from this scene on
    ambience_off: bool = False  # `ambience: off`: no bed from this scene on

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
    music: Music | None = None
    ambience: Ambience | None = None  # the bed under the cut from its start
    seams: bool = True  # smooth joins and one room tone (false: the plain join)

    @property
    def stem(self) -> str:
        """The name of the storyboard's work folder under out/."""
        return self.path.stem
