"""One voice per character: each take's voice against its character's reference (the values
and the judgement; casting.py works the references out from the takes).

A character's reference is, in order: a take set by hand (`f1gen voice CHARACTER --from
SCENE[:TAKE]`), else its `voice_ref` recording, else the medoid of its takes that pass the hard
checks (the take most like all the others, so one odd take cannot pull it). References are kept
in the work folder (voices.json), so a resumed run, status and the review page read the same one.
Each take's similarity to the reference is a "voice" check added when the pick is made: below
THRESHOLD it is "another voice", a warning (soft) or a failed hard check (strict).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .checks.model import Check, TakeChecks
from .files import write_atomic

if TYPE_CHECKING:
    from .scene import Character, Scene, Storyboard, VoiceCheck

# Cosine similarity below which a take is "another voice". bench/voice.py: on the fixtures the
# lowest same-voice pair is 0.84 and voices of another sex stay under 0.71; different speakers
# of Ovi's published results stay under 0.79.
THRESHOLD = 0.80
FILE = "voices.json"
Source = Literal["picked", "voice_ref", "medoid"]
SOURCES: dict[str, str] = {
    "picked": "set by hand",
    "voice_ref": "its voice_ref",
    "medoid": "the medoid of its takes",
}


@dataclass(frozen=True)
class Reference:
    """What a character's voice is compared with, and where it came from."""

    character: str
    source: Source
    embedding: tuple[float, ...]
    scene: str | None = None  # the take's scene (picked, medoid)
    take: str | None = None  # the take's file name (picked, medoid)
    clip: str | None = None  # what to play: the take's clip (relative to the work folder)
    voice_ref: str | None = None  # the recording (voice_ref), and its bytes' sha256
    digest: str | None = None

    @property
    def shown(self) -> str:
        """A few words: 'take 01-radio-1a2b3c4d.mp4 (the medoid of its takes)'."""
        what = f"take {self.take}" if self.take else f"{Path(self.voice_ref or '').name}"
        return f"{what} ({SOURCES[self.source]})"


class VoiceBook:
    """The characters' references kept in the work folder (voices.json)."""

    def __init__(self, workdir: Path) -> None:
        self.path = workdir / FILE

    def load(self) -> dict[str, Reference]:
        """Every reference kept; none when there is no file yet or a damaged one."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return {
                key: Reference(**{**value, "embedding": tuple(value["embedding"])})
                for key, value in data.get("characters", {}).items()
            }
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            return {}  # worked out again from the takes

    def save(self, references: Mapping[str, Reference]) -> None:
        """Write every reference atomically."""
        data = {"version": 1, "characters": {k: asdict(v) for k, v in references.items()}}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.path, (json.dumps(data, indent=1) + "\n").encode("utf-8"))


def similarity(a: Iterable[float], b: Iterable[float]) -> float:
    """Cosine similarity of two embeddings."""
    from .checks.voice import similarity as cosine

    return cosine(tuple(a), tuple(b))


def medoid(candidates: Mapping[str, tuple[float, ...]]) -> str | None:
    """The key whose embedding is most like all the others' (ties: the first by key)."""
    if not candidates:
        return None
    keys = sorted(candidates)
    return max(
        keys,
        key=lambda k: (
            sum(similarity(candidates[k], candidates[o]) for o in keys if o != k),
            -keys.index(k),
        ),
    )


def strictness(character: Character, option: VoiceCheck | None) -> VoiceCheck:
    """--voice-check beats the character's voice_check."""
    return option or character.voice_check


def judge(
    checks: TakeChecks, reference: Reference | None, *, character: Character, strict: bool
) -> TakeChecks:
    """checks with a "voice" check against the reference added (when both have a voice)."""
    if reference is None or checks.voice is None:
        return checks
    score = round(similarity(checks.voice, reference.embedding), 3)
    same = score >= THRESHOLD
    if same:
        check = Check(
            "voice", "pass", score, "", f"{character.name}'s voice ({score:.2f})", hard=strict
        )
    else:
        check = Check(
            "voice",
            "fail" if strict else "warn",
            score,
            "",
            f"another voice: {score:.2f} to {character.name}'s reference (under {THRESHOLD:.2f})",
            hard=strict,
        )
    kept = tuple(c for c in checks.checks if c.name != "voice")
    return replace(checks, checks=(*kept, check))


def embed_file(path: Path) -> tuple[float, ...] | None:
    """The voice of a recording's speech (None: too little speech); MediaError if unreadable."""
    from . import media
    from .checks.sound import VAD_RATE, find_speech
    from .checks.voice import embed_speech

    sound = media.read_sound(path, rate=VAD_RATE, mono=True)
    if sound is None:
        return None
    found = embed_speech(sound.samples[0], find_speech(sound.samples[0]).segments)
    return None if found is None else tuple(round(float(v), 5) for v in found)


def scenes_of(character: Character, storyboard: Storyboard) -> list[Scene]:
    """The generated scenes that show character."""
    return [
        s
        for s in storyboard.scenes
        if s.generated and s.character is not None and s.character.id == character.id
    ]


def reference_of(scene: Scene, workdir: Path) -> Reference | None:
    """The kept reference of scene's character, if it has one."""
    if scene.character is None:
        return None
    return VoiceBook(workdir).load().get(scene.character.id)


def judged(
    scene: Scene,
    checks: Mapping[str, TakeChecks],
    *,
    workdir: Path,
    option: VoiceCheck | None = None,
) -> dict[str, TakeChecks]:
    """checks (by take name) with each take's voice check against its character's reference."""
    character = scene.character
    reference = reference_of(scene, workdir)
    if character is None or reference is None:
        return dict(checks)
    strict = strictness(character, option) == "strict"
    return {
        name: judge(found, reference, character=character, strict=strict)
        for name, found in checks.items()
    }


def as_dict(reference: Reference | None) -> dict[str, Any] | None:
    """A JSON-ready view of a reference, without its embedding."""
    if reference is None:
        return None
    return {
        "source": reference.source,
        "shown": reference.shown,
        "scene": reference.scene,
        "take": reference.take,
        "clip": reference.clip,
        "voice_ref": reference.voice_ref,
    }
