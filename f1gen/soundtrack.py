"""Sound under the cut: the check of the storyboard's `music:` and `ambience:` files (their
values live in scene.py; the stitch lays them)."""

from __future__ import annotations

from pathlib import Path

SOUND_FILES = (".wav", ".flac", ".mp3", ".m4a", ".aac", ".ogg", ".opus")
MIN_SECONDS = 1.0  # a sound looped under the cut: shorter than this it would stutter
CHECK_RATE = 8_000  # Hz: decoded this small only to see that all of it decodes


def inspect(path: Path, *, start: float = 0.0) -> str | None:
    """None when path is a sound file the stitch can lay under a cut (from start seconds);
    otherwise what is wrong and the fix."""
    from . import images, media
    from .errors import MediaError

    missing = images.missing(path)
    if missing:
        return missing
    if path.suffix.lower() not in SOUND_FILES:
        kinds = ", ".join(s.lstrip(".") for s in SOUND_FILES)
        return f"is not a sound file f1gen reads: use one of {kinds}"
    try:
        sound = media.read_sound(path, rate=CHECK_RATE, mono=True)
    except MediaError as exc:
        return f"does not decode ({exc.message}): export it again"
    if sound is None:
        return "has no sound track"
    if sound.seconds < MIN_SECONDS:
        return (
            f"lasts {sound.seconds:.2f} s: a sound under the cut must last at least "
            f"{MIN_SECONDS:g} s: give a longer one"
        )
    if start and sound.seconds - start < MIN_SECONDS:
        return (
            f"lasts {sound.seconds:.2f} s: starting at {start:g} s leaves less than "
            f"{MIN_SECONDS:g} s: start earlier"
        )
    return None
