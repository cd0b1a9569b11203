"""Characters of a storyboard: a name, a portrait, a voice described in words and, optionally, a
recording of that voice to match.

A scene that says `character: max` takes the character's image (its own `image:` wins) and its
voice description, which the backend's prompt format puts where it describes sound, the same for
every scene of the character. The value lives in scene.py with the scenes; this module checks
what the storyboard says of it (storyboard.py reads the YAML).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .scene import Character, VoiceCheck

__all__ = ["Character", "VoiceCheck", "check_characters", "voice_ref_problem"]

VOICE_REF_SUFFIXES = (".wav", ".flac", ".mp3", ".m4a", ".ogg")
VOICE_REF_SPEECH = 2.0  # seconds of speech a voice_ref must hold to stand for a voice


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


def check_characters(
    raw: dict[str, Any],
    *,
    base: Path,
    check_text: Callable[[str, str | None, list[str]], str | None],
    slug: re.Pattern[str],
    problems: list[str],
    decode_media: bool,
) -> dict[str, Character]:
    """The storyboard's characters, each problem named by place (characters.max.voice_ref)."""
    from . import images

    characters: dict[str, Character] = {}
    for key, model in raw.items():
        label = f"characters.{key}"
        before = len(problems)
        if not slug.match(key):
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


def scene_character(
    label: str,
    name: str | None,
    *,
    own: tuple[str | None, str | None],
    cast: tuple[dict[str, Character], set[str]],
    problems: list[str],
) -> tuple[Character | None, bool]:
    """A scene's character (name: what it says; own: its image and footage; cast: the valid
    characters and every name defined), and whether the scene goes without an image of its own:
    its character gives one, or its character's problem is named already."""
    image, footage = own
    characters, known = cast
    if name is None:
        return None, False
    character = characters.get(name)
    if name not in known:
        names = ", ".join(sorted(known)) or "none defined"
        problems.append(
            f"{label}.character: unknown character {name!r}: define it under 'characters' ({names})"
        )
    if footage is not None:
        problems.append(f"{label}.character: only generated scenes have a character: remove it")
        return None, False
    if image is not None:
        return character, False
    if character is not None and character.image is None:
        problems.append(
            f"{label}: no image, and {character.label} has none: give the character an 'image' "
            "or the scene one"
        )
    return character, True
