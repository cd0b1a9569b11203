"""Issue 23 done: one character's takes served by the Space stand-in in two voices (most in one,
some in another); `generate --takes 2` picks the take in the character's voice in every scene that
has one, marks the others "another voice", and status, the manifest and the review page show it.
With voice_check: strict, a scene whose take is in the other voice is made again, its spend
counted, and ends in the right voice."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from f1gen import storyboard as storyboards
from f1gen.casting import refresh
from f1gen.cli import app
from f1gen.files import file_digest
from f1gen.review import write_review
from f1gen.state import RunState, StateStore
from f1gen.voices import THRESHOLD
from tests.support.browser import chromium, find_chromium
from tests.support.images import draw_portrait
from tests.support.ovi_stand_in import StandIn
from tests.support.takes import make_take, voice_fixture

pytestmark = pytest.mark.slow
LINE = "Yes! Simply lovely! Another win for the whole team today!"  # the fixtures' first line
# In the order the stand-in makes them: five in Max's voice (en+m1), three in another (en+f2).
SOLO = ("m1-1", "f2-1", "m1-2", "m1-3", "f2-2", "f2-3", "m1-4", "m1-1")


@dataclass(frozen=True)
class VoiceRun:
    """The storyboard, its work folder, the voice of each served clip by its bytes, and what
    each command said."""

    board: Path
    workdir: Path
    space: StandIn
    voice_of: dict[str, str]  # sha256 -> m1 or f2
    generate: Any
    others: dict[str, Any]


def _served(folder: Path, names: tuple[str, ...]) -> tuple[list[Path], dict[str, str]]:
    folder.mkdir(parents=True, exist_ok=True)
    made = {}
    for name in dict.fromkeys(names):
        voice, line = name.split("-")
        made[name] = make_take(
            folder / f"{name}.mp4", sound=voice_fixture(voice, int(line)), size=(576, 896)
        )
    return [made[n] for n in names], {file_digest(p): n.split("-")[0] for n, p in made.items()}


def _board(folder: Path, *, scenes: int, character: dict[str, Any]) -> Path:
    draw_portrait(folder / "images" / "max.png", color="red")
    board = folder / "max.yaml"
    data = {
        "title": "Max",
        "characters": {"max": {"name": "Max", "image": "images/max.png", **character}},
        "scenes": [
            {"id": f"s{n}", "character": "max", "action": "A driver grins. He says", "speech": LINE}
            for n in range(1, scenes + 1)
        ],
    }
    board.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return board


def _run(
    folder: Path, *, served: tuple[str, ...], board: Path, args: list[str], after: list[str]
) -> VoiceRun:
    clips, voice_of = _served(folder / "served", served)
    space = StandIn(Path("unused.mp4"), takes=clips).start()
    workdir = folder / "out" / board.stem
    runner = CliRunner()
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.chdir(folder)
            patch.setenv("OVI_SPACE", space.url)
            patch.setenv("F1GEN_BACKOFF_SECONDS", "0.01")
            generate = runner.invoke(
                app,
                [
                    "generate",
                    str(board),
                    "--seed",
                    "7",
                    "--workdir",
                    str(workdir),
                    "--json",
                    "--checks",
                    *args,
                ],
                catch_exceptions=False,
            )
            others = {
                command: runner.invoke(
                    app,
                    [
                        command,
                        str(board),
                        "--workdir",
                        str(workdir),
                        "--json",
                        *(["--no-loudnorm"] if command == "stitch" else []),
                    ],
                    catch_exceptions=False,
                )
                for command in after
            }
    finally:
        space.stop()
    return VoiceRun(board, workdir, space, voice_of, generate, others)


@pytest.fixture(scope="module")
def soft(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VoiceRun]:
    folder = tmp_path_factory.mktemp("voice-soft")
    board = _board(folder, scenes=4, character={"voice": "Deep male voice, excited"})
    yield _run(folder, served=SOLO, board=board, args=["--takes", "2"], after=["status", "stitch"])


def _state(run: VoiceRun) -> RunState:
    return StateStore(run.workdir).read()


def test_each_scene_picks_the_take_in_its_characters_voice_where_there_is_one(
    soft: VoiceRun,
) -> None:
    assert soft.generate.exit_code == 0, soft.generate.stderr
    state = _state(soft)
    voices = {
        entry.id: [soft.voice_of[t.sha256 or ""] for t in entry.takes]
        for entry in state.scenes.values()
    }
    assert sorted(v for vs in voices.values() for v in vs) == ["f2"] * 3 + ["m1"] * 5
    assert any(set(v) == {"m1", "f2"} for v in voices.values())  # a scene to choose in
    for entry in state.scenes.values():
        picked = next(t for t in entry.takes if t.clip == entry.clip)
        assert picked.voice is not None and entry.pick_reason is not None
        if "m1" in voices[entry.id]:
            assert soft.voice_of[picked.sha256 or ""] == "m1", (entry.id, entry.pick_reason)
            assert entry.pick_reason.startswith(f"Max's voice ({picked.voice:.2f}); ")
        for take in entry.takes:
            voice = soft.voice_of[take.sha256 or ""]
            assert take.voice is not None
            assert (take.voice >= THRESHOLD) == (voice == "m1"), (take.name, take.voice)
            if voice == "f2":
                assert take.checks is not None and not take.rejected  # soft: never made again
                assert f"{take.name}: another voice: {take.voice:.2f} to Max's reference" in (
                    entry.pick_reason
                    if take.clip != entry.clip
                    else take.name + ": " + entry.pick_reason
                )
    assert len(soft.space.calls) == 8  # nothing made again in the soft check


def test_the_reference_is_the_medoid_kept_in_the_work_folder(soft: VoiceRun) -> None:
    kept = json.loads((soft.workdir / "voices.json").read_text())["characters"]["max"]
    assert kept["source"] == "medoid"
    state = _state(soft)
    take = next(t for e in state.scenes.values() for t in e.takes if t.name == kept["take"])
    assert soft.voice_of[take.sha256 or ""] == "m1"


def test_status_gives_each_takes_similarity_and_the_reference(soft: VoiceRun) -> None:
    status = soft.others["status"]
    assert status.exit_code == 0, status.stderr
    shown = json.loads(status.stdout)
    state = _state(soft)
    assert shown["characters"]["max"]["reference"]["source"] == "medoid"
    assert shown["characters"]["max"]["voice"] == "Deep male voice, excited"
    for row in shown["scenes"]:
        entry = state.scenes[row["id"]]
        assert row["character"] == "max"
        assert row["voices"] == {t.name: t.voice for t in entry.takes}
        assert row["voice"] == next(t.voice for t in entry.takes if t.clip == entry.clip)


def test_the_manifest_gives_each_takes_similarity_and_the_reference(soft: VoiceRun) -> None:
    assert soft.others["stitch"].exit_code == 0, soft.others["stitch"].stderr
    manifest = json.loads((soft.workdir / "manifest.json").read_text())
    state = _state(soft)
    assert manifest["characters"]["max"]["reference"]["source"] == "medoid"
    for row in manifest["scenes"]:
        assert row["character"] == "max"
        takes = state.scenes[row["id"]].takes
        assert [t["voice"] for t in row["takes"]] == [t.voice for t in takes]


@pytest.mark.skipif(find_chromium() is None, reason="chromium is not installed: not tested here")
def test_the_review_page_has_a_row_per_character_with_the_outliers_marked(soft: VoiceRun) -> None:
    binary = find_chromium()
    assert binary is not None
    state = _state(soft)
    result = write_review(storyboards.load(soft.board).storyboard, workdir=soft.workdir)

    with chromium(binary) as page:
        page.open(result.path.resolve().as_uri())
        rows = page.evaluate(
            "Array.from(document.querySelectorAll('section.character[data-character=max] "
            "tr.cast-row')).map(r => [r.dataset.scene, r.dataset.take, r.dataset.similarity, "
            "r.classList.contains('outlier'), r.querySelectorAll('audio').length])"
        )
        reference = page.evaluate(
            "document.querySelector('section.character audio:last-of-type') "
            "&& Array.from(document.querySelectorAll('section.character tr.cast-row td:last-child audio'))"
            ".map(a => a.getAttribute('src'))"
        )
        errors = page.errors()
    assert errors == []
    expected = []
    for entry in state.scenes.values():
        picked = next(t for t in entry.takes if t.clip == entry.clip)
        assert picked.voice is not None
        expected.append([entry.id, picked.name, f"{picked.voice:.2f}", picked.voice < THRESHOLD, 2])
    assert rows == expected
    kept = json.loads((soft.workdir / "voices.json").read_text())["characters"]["max"]
    assert reference == [kept["clip"]] * len(expected)


def test_f1gen_voice_sets_the_reference_from_a_take_and_picks_again(soft: VoiceRun) -> None:
    # Last of the soft run's tests: it changes the reference.
    state = _state(soft)
    scene, take = next(
        (e.id, t) for e in state.scenes.values() for t in e.takes
        if soft.voice_of[t.sha256 or ""] == "f2"
    )  # fmt: skip
    runner = CliRunner()
    args = ["--storyboard", str(soft.board), "--workdir", str(soft.workdir)]

    unknown = runner.invoke(app, ["voice", "bob", "--from", scene, *args])
    no_scene = runner.invoke(app, ["voice", "max", "--from", "s9", *args])
    result = runner.invoke(app, ["voice", "max", "--from", f"{scene}:{take.name}", *args])

    assert unknown.exit_code == 2
    assert unknown.stderr == "error: no character 'bob': give one of max\n"
    assert no_scene.exit_code == 2
    assert no_scene.stderr == (
        "error: 's9' is not a generated scene of characters.max: give one of s1, s2, s3, s4\n"
    )
    assert result.exit_code == 0, result.stderr
    assert result.stderr == f"max: the reference voice is now take {take.name} (set by hand)\n"
    kept = json.loads((soft.workdir / "voices.json").read_text())["characters"]["max"]
    assert (kept["source"], kept["scene"], kept["take"]) == ("picked", scene, take.name)
    after = _state(soft)
    for entry in after.scenes.values():  # now every scene with a take in that voice picks it
        picked = next(t for t in entry.takes if t.clip == entry.clip)
        if any(soft.voice_of[t.sha256 or ""] == "f2" for t in entry.takes):
            assert soft.voice_of[picked.sha256 or ""] == "f2", entry.id
    # What a resumed run does first: the reference set by hand stays.
    story = storyboards.load(soft.board).storyboard
    refresh(story, after, workdir=soft.workdir)
    assert json.loads((soft.workdir / "voices.json").read_text())["characters"]["max"] == kept


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VoiceRun]:
    folder = tmp_path_factory.mktemp("voice-strict")
    shutil.copy(voice_fixture("m1", 4), folder / "max-voice.ogg")
    board = _board(
        folder, scenes=2, character={"voice_ref": "max-voice.ogg", "voice_check": "strict"}
    )
    yield _run(folder, served=("f2-1", "m1-1", "m1-2"), board=board, args=[], after=["status"])


def test_strict_makes_a_take_in_another_voice_again_and_counts_it(strict: VoiceRun) -> None:
    assert strict.generate.exit_code == 0, strict.generate.stderr
    summary = json.loads(strict.generate.stdout)
    assert sorted(summary["generated"]) == ["s1", "s2"]
    assert summary["clips"] == 3  # the one in another voice was made, and counted
    assert [c.clip for c in strict.space.calls] == ["f2-1.mp4", "m1-1.mp4", "m1-2.mp4"]
    state = _state(strict)
    first, second = state.scenes["s1"], state.scenes["s2"]
    assert first.attempts == 2 and second.attempts == 1
    wrong, right = first.takes
    assert wrong.rejected and strict.voice_of[wrong.sha256 or ""] == "f2"
    assert wrong.checks is not None and wrong.checks.startswith("another voice: ")
    assert (strict.workdir / wrong.clip).is_file()  # paid for: kept, never picked
    assert first.failures[0].message.startswith(
        f"take {wrong.name} failed a hard check (another voice: "
    )
    assert first.clip == right.clip and strict.voice_of[right.sha256 or ""] == "m1"
    assert right.voice is not None and right.voice >= THRESHOLD
    kept = json.loads((strict.workdir / "voices.json").read_text())["characters"]["max"]
    assert kept["source"] == "voice_ref" and kept["voice_ref"].endswith("max-voice.ogg")
