"""The voice check's speaker embedding: resemblyzer's encoder run with numpy, its weights read
without torch, and same-voice takes told from other-voice takes."""

from __future__ import annotations

import io
import itertools
import json
import pickle
import struct

import numpy as np
import pytest

from f1gen import media
from f1gen.checks.sound import VAD_RATE, find_speech
from f1gen.checks.voice import embed_speech, embed_utterance, similarity, speech_only
from f1gen.models.convert_resemblyzer import read_legacy
from f1gen.voices import THRESHOLD
from tests.support.takes import VOICES, voice_fixture


def speech_of(voice: str, line: int) -> np.ndarray:
    sound = media.read_sound(voice_fixture(voice, line), rate=VAD_RATE, mono=True)
    assert sound is not None
    return speech_only(sound.samples[0], find_speech(sound.samples[0]).segments)


@pytest.fixture(scope="module")
def embeddings() -> dict[tuple[str, int], np.ndarray]:
    return {
        (voice, line): embed_utterance(speech_of(voice, line))
        for voice in ("m1", "m7", "f2", "f4")
        for line in (1, 2, 3, 4)
    }


@pytest.mark.parametrize("name", ["f2-1", "m1-2"])
def test_the_embedding_is_resemblyzers(name: str) -> None:
    # resemblyzer.json: what resemblyzer itself (with torch) made of the same speech.
    golden = json.loads((VOICES / "resemblyzer.json").read_text())["embeddings"][name]
    voice, line = name.split("-")
    ours = embed_utterance(speech_of(voice, int(line)))
    assert ours.shape == (256,)
    assert similarity(ours, tuple(golden)) > 0.9995
    assert np.abs(ours - np.array(golden)).max() < 0.01


def test_every_same_voice_pair_is_over_the_threshold(
    embeddings: dict[tuple[str, int], np.ndarray],
) -> None:
    scores = [
        similarity(embeddings[a], embeddings[b])
        for a, b in itertools.combinations(embeddings, 2)
        if a[0] == b[0]
    ]
    assert len(scores) == 24
    assert min(scores) >= THRESHOLD


def test_a_male_and_a_female_voice_are_under_the_threshold(
    embeddings: dict[tuple[str, int], np.ndarray],
) -> None:
    scores = [
        similarity(embeddings[a], embeddings[b])
        for a, b in itertools.product(embeddings, repeat=2)
        if a[0][0] == "m" and b[0][0] == "f"
    ]
    assert max(scores) < THRESHOLD


def test_too_little_speech_is_not_judged() -> None:
    sound = media.read_sound(voice_fixture("m1", 1), rate=VAD_RATE, mono=True)
    assert sound is not None
    samples = sound.samples[0]
    assert embed_speech(samples, ((1.0, 1.5),)) is None
    assert embed_speech(samples, ((0.3, 2.0),)) is not None


def legacy_file(obj: object) -> bytes:
    """A file in torch's legacy layout holding obj and no storages."""
    out = io.BytesIO()
    for header in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}):
        pickle.dump(header, out, protocol=2)
    out.write(obj if isinstance(obj, bytes) else pickle.dumps(obj, protocol=2))
    pickle.dump([], out, protocol=2)
    return out.getvalue()


def test_the_weights_reader_builds_only_dicts_and_tensors() -> None:
    assert read_legacy(legacy_file({"model_state": {}})) == {"model_state": {}}
    # A pickle that would call os.system when loaded by plain pickle.
    evil = b"cos\nsystem\n(S'echo pwned'\ntR."
    with pytest.raises(pickle.UnpicklingError, match=r"refused: os\.system"):
        read_legacy(legacy_file(evil))


def test_the_weights_reader_refuses_another_format() -> None:
    with pytest.raises(ValueError, match="not a legacy torch file"):
        read_legacy(pickle.dumps(1) + struct.pack("<q", 0))


def test_the_pick_prefers_the_characters_voice_then_the_checks_then_the_closest() -> None:
    from f1gen.checks import Check, TakeChecks, choose
    from f1gen.scene import Character
    from f1gen.voices import Reference, judge

    max_ = Character("max", "Max")
    reference = Reference("max", "medoid", (1.0, 0.0, 0.0))
    speech = Check("speech", "pass", 2.0, "s", "2.0 s of speech", hard=True)
    words = Check("words", "warn", 60, "%", "3 of 5 words of the line heard")

    def take(
        name: str, voice: tuple[float, ...], *extra: Check, strict: bool = False
    ) -> TakeChecks:
        made = TakeChecks(name, (speech, *extra), voice=voice)
        return judge(made, reference, character=max_, strict=strict)

    other = take("other.mp4", (0.5, 0.866, 0.0))  # 0.50: another voice, every check passed
    close = take("close.mp4", (0.95, 0.312, 0.0), words)  # 0.95, one warning
    closer = take("closer.mp4", (0.99, 0.141, 0.0), words)  # 0.99, one warning

    choice = choose([other, close, closer])

    assert choice.take == "closer.mp4"
    assert choice.reason.startswith("Max's voice (0.99); warns on words (others: other.mp4: ")
    assert (
        "other.mp4: another voice: 0.50 to Max's reference (under 0.80); passes every other check"
        in choice.reason
    )
    assert choose([other]).usable  # soft: still a take
    strict = take("other.mp4", (0.5, 0.866, 0.0), strict=True)
    assert strict.rejected and not choose([strict]).usable
    assert judge(
        TakeChecks("quiet.mp4", (speech,)), reference, character=max_, strict=True
    ).checks == (speech,)
