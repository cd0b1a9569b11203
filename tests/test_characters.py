"""Characters in the storyboard: one image and one voice description for all of a character's
scenes, a voice recording to match, and every mistake named by place with exit 2."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from f1gen import storyboard as storyboards
from f1gen.plan import plan_scene
from f1gen.prompts import build
from tests.support.takes import voice_fixture

MAX = {"name": "Max", "image": "images/p0.png", "voice": "Deep male voice, Dutch accent, excited."}


def board_with(
    write_storyboard: Callable[..., Path],
    *,
    characters: dict[str, Any],
    scenes: list[dict[str, Any]] | None = None,
) -> Path:
    scenes = scenes or [
        {"id": "radio", "character": "max", "action": "A driver in a red suit grins. He says",
         "speech": "What a lap!", "atmosphere": "Engines in the distance"},
        {"id": "podium", "character": "max", "action": "The driver lifts a trophy. He shouts",
         "speech": "We did it!"},
        {"id": "crowd", "image": "images/p1.png", "action": "Fans wave flags in the stands."},
    ]  # fmt: skip
    return write_storyboard(scenes, extra={"characters": characters})


def test_a_characters_scenes_take_its_image_and_its_voice_in_every_prompt(
    write_storyboard: Callable[..., Path],
) -> None:
    board = board_with(write_storyboard, characters={"max": MAX})

    story = storyboards.load(board).storyboard
    radio, podium, crowd = story.scenes

    assert radio.image == podium.image == board.parent / "images" / "p0.png"
    assert [c.id for c in story.characters] == ["max"]
    assert build(radio) == (
        "A driver in a red suit grins. He says <S>What a lap!<E>. "
        "<AUDCAP>Deep male voice, Dutch accent, excited. Engines in the distance<ENDAUDCAP>."
    )
    assert build(podium) == (
        "A driver lifts a trophy. He shouts <S>We did it!<E>. "
        "<AUDCAP>Deep male voice, Dutch accent, excited<ENDAUDCAP>."
    ).replace("A driver lifts", "The driver lifts")
    assert build(crowd) == "Fans wave flags in the stands."


def test_a_scenes_own_image_wins(write_storyboard: Callable[..., Path]) -> None:
    scenes = [{"id": "radio", "character": "max", "image": "images/p1.png", "action": "Waves."}]
    board = board_with(write_storyboard, characters={"max": MAX}, scenes=scenes)

    (radio,) = storyboards.load(board).storyboard.scenes

    assert radio.image == board.parent / "images" / "p1.png"


def test_changing_a_voice_changes_the_fingerprints_of_that_characters_scenes_only(
    write_storyboard: Callable[..., Path],
) -> None:
    def fingerprints(voice: str) -> list[str]:
        lando = {"name": "Lando", "image": "images/p1.png", "voice": "Bright young voice."}
        scenes = [
            {"id": "a", "character": "max", "action": "Grins. He says", "speech": "Yes!"},
            {"id": "b", "character": "lando", "action": "Waves. He says", "speech": "Hi!"},
        ]
        board = board_with(
            write_storyboard,
            characters={"max": {**MAX, "voice": voice}, "lando": lando},
            scenes=scenes,
        )
        story = storyboards.load(board).storyboard
        return [
            plan_scene(s, backend_identity="animatic", steps=40).fingerprint for s in story.scenes
        ]

    before, after = fingerprints("Deep male voice."), fingerprints("Soft male voice.")

    assert before[0] != after[0]
    assert before[1] == after[1]


def test_a_voice_ref_with_enough_speech_is_taken(
    write_storyboard: Callable[..., Path], tmp_path: Path
) -> None:
    shutil.copy(voice_fixture("m1", 1), tmp_path / "max.ogg")
    board = board_with(write_storyboard, characters={"max": {**MAX, "voice_ref": "max.ogg"}})

    (max_,) = storyboards.load(board).storyboard.characters

    assert max_.voice_ref == tmp_path / "max.ogg"
    assert max_.voice_check == "soft"


def test_an_unused_character_is_a_warning(
    write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    lando = {"image": "images/p1.png"}
    board = board_with(write_storyboard, characters={"max": MAX, "lando": lando})

    result = cli("validate", board)

    assert result.exit_code == 0
    assert (
        f"warning: {board}: characters.lando: no scene uses it: give a scene "
        "'character: lando' or remove it"
    ) in result.stderr


def cut_short(tmp_path: Path) -> None:
    """short.wav: a recording holding about a second of speech."""
    from f1gen import media

    sound = media.read_sound(voice_fixture("m1", 1), rate=16000, mono=True)
    assert sound is not None
    import wave

    import numpy as np

    samples = (sound.samples[0][: int(1.3 * 16000)] * 32767).astype(np.int16)
    with wave.open(str(tmp_path / "short.wav"), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(samples.tobytes())


BAD = [
    ({"max": MAX}, [{"id": "radio", "character": "bob", "action": "Waves."}],
     "scenes[1] (radio).character: unknown character 'bob': define it under 'characters' (max)"),
    ({"max": {"voice": "Deep."}}, [{"id": "radio", "character": "max", "action": "Waves."}],
     "scenes[1] (radio): no image, and characters.max has none: give the character an 'image' or the scene one"),
    ({"max": {**MAX, "voice_ref": "broken.wav"}}, None,
     "characters.max.voice_ref: broken.wav: does not decode as sound: give a wav, flac, mp3, m4a or ogg recording"),
    ({"max": {**MAX, "voice_ref": "short.wav"}}, None,
     "characters.max.voice_ref: short.wav: holds 0.7 s of speech, under 2 s: give a longer recording of the voice"),
    ({"max": {**MAX, "voice_ref": "gone.flac"}}, None,
     "characters.max.voice_ref: gone.flac: no such file: check the path (it is relative to the storyboard)"),
    ({"max": {**MAX, "voice_ref": "notes.txt"}}, None,
     "characters.max.voice_ref: notes.txt: is not a sound file (.wav, .flac, .mp3, .m4a, .ogg)"),
    ({"max": {**MAX, "image": "images/none.png"}}, None,
     "characters.max.image: images/none.png: no such file: check the path (it is relative to the storyboard)"),
    ({"max": {**MAX, "voice": "Low <AUDCAP>"}}, None,
     "characters.max.voice: contains the Ovi tag '<AUDCAP>', which breaks the prompt: remove it (f1gen adds the tags)"),
    ({"max": {**MAX, "voice_check": "hard"}}, None,
     "characters.max.voice_check: must be 'soft' or 'strict'"),
    ({"Max": MAX}, [{"id": "radio", "character": "Max", "action": "Waves."}],
     "characters.Max: 'Max' is not a slug: use lower-case letters, digits and dashes"),
    ({"max": {**MAX, "accent": "Dutch"}}, None,
     "characters.max.accent: unknown field: remove it or check its spelling"),
]  # fmt: skip


@pytest.mark.parametrize(("characters", "scenes", "message"), BAD, ids=[m[:40] for *_, m in BAD])
def test_a_bad_character_is_named_by_place_with_exit_2(
    characters: dict[str, Any],
    scenes: list[dict[str, Any]] | None,
    message: str,
    write_storyboard: Callable[..., Path],
    cli: Callable[..., Any],
    tmp_path: Path,
) -> None:
    (tmp_path / "broken.wav").write_bytes(b"RIFF....WAVEfmt not really")
    (tmp_path / "notes.txt").write_text("hello")
    cut_short(tmp_path)
    board = board_with(write_storyboard, characters=characters, scenes=scenes)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}

    result = cli("validate", board)

    assert result.exit_code == 2
    assert f"error: {board}: {message}" in result.stderr.splitlines()
    assert "Traceback" not in result.output
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def rehearsal_board(write_storyboard: Callable[..., Path]) -> Path:
    nia = {"name": "Nia", "image": "images/p1.png", "voice": "Low, steady female voice."}
    scenes = [
        {"id": "a", "character": "max", "action": "Grins. He says", "speech": "What a lap that was, the car felt fantastic from the start!"},
        {"id": "b", "character": "nia", "action": "Nods. She says", "speech": "Second is fine for today, the race is tomorrow and we are ready."},
        {"id": "c", "character": "max", "action": "Waves. He says", "speech": "Thank you all for coming today, this title belongs to the whole team!"},
    ]  # fmt: skip
    return board_with(write_storyboard, characters={"max": MAX, "nia": nia}, scenes=scenes)


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_the_animatic_gives_each_character_one_voice_of_its_own(
    write_storyboard: Callable[..., Path], cli: Callable[..., Any], tmp_path: Path
) -> None:
    import json

    from f1gen.state import StateStore
    from f1gen.voices import THRESHOLD, similarity

    board = rehearsal_board(write_storyboard)

    result = cli(
        "generate", board, "--backend", "animatic", "--checks", "--workdir", tmp_path / "out"
    )

    assert result.exit_code == 0, result.stderr
    state = StateStore(tmp_path / "out").read()
    picked = {e.id: next(t for t in e.takes if t.clip == e.clip) for e in state.scenes.values()}
    assert all(t.voice is not None and t.voice >= THRESHOLD for t in picked.values()), picked
    assert state.scenes["a"].pick_reason is not None
    assert state.scenes["a"].pick_reason.startswith("the only take: Max's voice (")
    kept = json.loads((tmp_path / "out" / "voices.json").read_text())["characters"]
    assert similarity(kept["max"]["embedding"], kept["nia"]["embedding"]) < THRESHOLD


def test_without_a_voice_to_judge_the_run_says_so_once(
    write_storyboard: Callable[..., Path],
    cli: Callable[..., Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    board = rehearsal_board(write_storyboard)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no espeak-ng: the animatic's tones

    result = cli(
        "generate", board, "--backend", "animatic", "--checks", "--workdir", tmp_path / "out"
    )

    assert result.exit_code == 0, result.stderr
    said = [line for line in result.stderr.splitlines() if "voices not checked" in line]
    assert len(said) == 1
    assert said[0].endswith(  # after the time stamp
        " voices not checked: animatic:1's clips carry no voice to judge (the animatic "
        "speaks only with espeak-ng installed)"
    )
