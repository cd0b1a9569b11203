"""Characters of a storyboard: a name, a portrait, a voice described in words and, optionally, a
recording of that voice to match.

A scene that says `character: max` takes the character's image (its own `image:` wins) and its
voice description, which the backend's prompt format puts where it describes sound, the same for
every scene of the character. This module holds the value and its validation; storyboard.py
reads the YAML.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

VoiceCheck = Literal["soft", "strict"]
VOICE_REF_SUFFIXES = (".wav", ".flac", ".mp3", ".m4a", ".ogg")
VOICE_REF_SPEECH = 2.0  # seconds of speech a voice_ref must hold to stand for a voice


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


def voice_ref_problem(path: Path) -> str | None:
    """Why a voice_ref cannot stand for a voice (a missing file, one that does not decode, under
    2 s of speech); None when it can."""
    from . import media
    from .checks.sound import VAD_RATE, find_speech
    from .errors import MediaError

    if path.suffix.lower() not in VOICE_REF_SUFFIXES:
        return f"is not a sound file ({', '.join(VOICE_REF_SUFFIXES)})"
    if not path.is_file():
        return "no such file: check the path (it is relative to the storyboard)"
    try:
        sound = media.read_sound(path, rate=VAD_RATE, mono=True)
    except MediaError:
        return "does not decode as sound: give a wav, flac, mp3, m4a or ogg recording"
    if sound is None:
        return "has no sound track: give a recording of the voice"
    voiced = find_speech(sound.samples[0]).voiced
    if voiced < VOICE_REF_SPEECH:
        return (
            f"holds {voiced:.1f} s of speech, under {VOICE_REF_SPEECH:.0f} s: give a longer "
            "recording of the voice"
        )
    return None


def with_sound_description(voice: str | None, atmosphere: str | None) -> str | None:
    """An audio caption that names the voice first, then the atmosphere, as Ovi's own example
    prompts do ("Clear, resonant female speech, ... ambient room tone.")."""
    if not voice:
        return atmosphere
    voice = voice.rstrip(" .")
    return f"{voice}. {atmosphere}" if atmosphere else voice


def check_characters(
    raw: dict[str, Any],
    *,
    base: Path,
    check_text: Callable[[str, str | None, list[str]], str | None],
    problems: list[str],
    decode_media: bool,
) -> dict[str, Character]:
    """The storyboard's characters, each problem named by place (characters.max.voice_ref)."""
    from . import images
    from .storyboard import SLUG

    characters: dict[str, Character] = {}
    for key, model in raw.items():
        label = f"characters.{key}"
        before = len(problems)
        if not SLUG.match(key):
            problems.append(
                f"{label}: {key!r} is not a slug: use lower-case letters, digits and dashes"
            )
        name = check_text(f"{label}.name", model.name, problems) if model.name else key
        voice = check_text(f"{label}.voice", model.voice, problems)
        image = voice_ref = None
        if model.image is not None:
            image = base / model.image
            problem = images.inspect(image) if decode_media else images.missing(image)
            if problem:
                problems.append(f"{label}.image: {model.image}: {problem}")
        if model.voice_ref is not None:
            voice_ref = base / model.voice_ref
            problem = voice_ref_problem(voice_ref) if decode_media else _missing(voice_ref)
            if problem:
                problems.append(f"{label}.voice_ref: {model.voice_ref}: {problem}")
        if len(problems) == before:
            characters[key] = Character(
                id=key,
                name=name or key,
                image=image,
                voice=voice,
                voice_ref=voice_ref,
                voice_check=model.voice_check or "soft",
            )
    return characters


def _missing(path: Path) -> str | None:
    return (
        None
        if path.is_file()
        else "no such file: check the path (it is relative to the storyboard)"
    )


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
