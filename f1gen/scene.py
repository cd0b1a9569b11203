"""The storyboard as data: frozen scenes every layer shares (storyboard.py loads them from YAML)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Fit = Literal["cover", "contain"]
VoiceCheck = Literal["soft", "strict"]


@dataclass(frozen=True)
class Character:
    """One character: who it is, how it looks and how it sounds."""

    id: str
    name: str
    image: Path | None = None
    voice: str | None = None  # a short description, sent in every prompt of its scenes
    voice_ref: Path | None = None  # a recording whose voice its takes must match
    voice_check: VoiceCheck = "soft"  # strict: a take in another voice is made again

    @property
    def label(self) -> str:
        """How messages name this character: characters.max."""
        return f"characters.{self.id}"


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
    duration: int | None = None  # seconds: the scene's own, else defaults.duration
    board_duration: int | None = None  # defaults.duration
    music_off: bool = False  # `music: off`: a silence in the music over this scene
    ambience: Ambience | None = None  # a bed from this scene on
    ambience_off: bool = False  # `ambience: off`: no bed from this scene on
    character: Character | None = None  # its voice goes into the prompt; its image if none here

    @property
    def seconds(self) -> int | None:
        """The length of clip the scene asks for (None: whatever the backend's model makes)."""
        return self.duration or self.board_duration

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
    characters: tuple[Character, ...] = ()

    @property
    def stem(self) -> str:
        """The name of the storyboard's work folder under out/."""
        return self.path.stem


def with_sound_description(voice: str | None, atmosphere: str | None) -> str | None:
    """An audio caption that names the voice first, then the atmosphere, as Ovi's own example
    prompts do ("Clear, resonant female speech, ... ambient room tone.")."""
    if not voice:
        return atmosphere
    voice = voice.rstrip(" .")
    return f"{voice}. {atmosphere}" if atmosphere else voice


# Distinct espeak-ng voices for the animatic's cast; en+m3 is left out: to the voice check's
# encoder (and nearly to the ear) it is en+m1 a little higher (bench/voice.py).
MALE_VOICES = ("en+m1", "en+m7", "en+m5", "en+m2")
FEMALE_VOICES = ("en+f2", "en+f4", "en+f5", "en+f3")


def rehearsal_voice(character: Character | None) -> list[str]:
    """espeak-ng's voice and pitch options for a character, stable from its id, male or female
    as its voice description says (none: espeak's defaults)."""
    import re
    import zlib

    if character is None:
        return []
    words = set(re.findall(r"[a-z]+", (character.voice or "").lower()))
    cast: tuple[str, ...]
    if words & {"female", "woman", "girl", "she", "her"}:
        cast = FEMALE_VOICES
    elif words & {"male", "man", "boy", "he", "his"}:
        cast = MALE_VOICES
    else:
        cast = MALE_VOICES + FEMALE_VOICES
    number = zlib.crc32(character.id.encode())
    # A pitch of its own too (espeak's default is 50): four variants alone repeat in a cast.
    return ["-v", cast[number % len(cast)], "-p", str(30 + (number >> 8) % 41)]
