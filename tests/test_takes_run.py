"""Takes in the run: N per scene with distinct recorded seeds, resumable mid-takes, a take that
fails a hard check kept and regenerated with a new seed (its cost counted), the pick and its
override, and a state from before takes were recorded."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from f1gen import pipeline
from f1gen import storyboard as storyboards
from f1gen.backends import ClipRequest, ClipTiming, Report
from f1gen.config import load_settings
from f1gen.events import Notice
from f1gen.files import file_digest
from f1gen.pipeline import GenerateRequest
from f1gen.plan import scene_clip
from f1gen.runner import Runner, RunOptions
from f1gen.state import StateStore
from f1gen.status import table
from f1gen.stitch.publish import collect
from tests.support.images import draw_portrait
from tests.support.mediatools import MarkerClip
from tests.support.scripted import ScriptedBackend, failing, good
from tests.support.takes import fixture_scene, make_take, speech_fixture

WORK = Path("out/board")


class SeededBackend(ScriptedBackend):
    """A scripted backend that records the seed of every request and charges for each clip."""

    def __init__(self, takes: list[Callable[[Path], None]], *, price: float = 0.0) -> None:
        super().__init__(takes)
        self.seeds: list[int | None] = []
        self.price = price

    def generate(self, request: ClipRequest, dest: Path, report: Report) -> ClipTiming:
        self.seeds.append(request.seed)
        super().generate(request, dest, report)
        return ClipTiming(cost_usd=self.price)


def _copy(source: Path) -> Callable[[Path], None]:
    return lambda dest: shutil.copyfile(source, dest)


def _interrupt(dest: Path) -> None:
    raise KeyboardInterrupt


def _runner(board: Path, backend: Any) -> Runner:
    loaded = storyboards.load(board).storyboard
    return Runner(loaded, workdir=WORK, lanes=[backend], emit=lambda event: None)


def test_takes_get_distinct_recorded_seeds_and_a_killed_run_makes_only_the_missing_ones(
    write_storyboard: Callable[..., Path], marker_clips: list[MarkerClip]
) -> None:
    board = write_storyboard(
        [{"id": "s1", "image": "images/p0.png", "action": "Waves.", "seed": 7, "takes": 3}]
    )
    first = SeededBackend([_copy(marker_clips[0].path), _interrupt])
    with pytest.raises(KeyboardInterrupt):
        _runner(board, first).run(RunOptions())

    again = SeededBackend([_copy(marker_clips[1].path), _copy(marker_clips[2].path)])
    summary = _runner(board, again).run(RunOptions())

    takes = StateStore(WORK).read().scenes["s1"].takes
    assert summary.done == ["s1"] and len(takes) == 3
    assert [t.seed for t in takes] == [7, *again.seeds] and first.seeds[0] == 7
    assert len({t.seed for t in takes}) == 3 and first.seeds[1] == again.seeds[0]
    assert all((WORK / t.clip).is_file() for t in takes)
    assert _runner(board, SeededBackend([])).run(RunOptions()).skipped == ["s1"]


def test_takes_option_beats_the_defaults_and_a_scene_s_own_beats_the_option(
    write_storyboard: Callable[..., Path], marker_clips: list[MarkerClip]
) -> None:
    scenes = [
        {"id": "own", "image": "images/p0.png", "action": "Waves.", "takes": 1},
        {"id": "other", "image": "images/p1.png", "action": "Nods."},
    ]
    board = write_storyboard(scenes, extra={"defaults": {"takes": 3}})
    backend = SeededBackend([_copy(m.path) for m in marker_clips[:3]])

    _runner(board, backend).run(RunOptions(takes=2))

    state = StateStore(WORK).read()
    assert backend.calls == ["own", "other", "other"]
    assert (len(state.scenes["own"].takes), len(state.scenes["other"].takes)) == (1, 2)
    assert state.scenes["other"].takes[0].seed is None  # the backend's own, as before takes
    assert state.scenes["other"].takes[1].seed is not None


@pytest.fixture
def spoken_board(tmp_path: Path) -> Path:
    """A one-scene storyboard whose line is the one the speech fixtures say."""
    scene = fixture_scene()
    draw_portrait(tmp_path / "images" / "p.png")
    data = {"title": "Spoken", "scenes": [{"id": "s1", "image": "images/p.png",
            "action": scene["action"], "speech": scene["line"]}]}  # fmt: skip
    board = tmp_path / "board.yaml"
    board.write_text(yaml.safe_dump(data), encoding="utf-8")
    return board


def test_a_take_failing_a_hard_check_is_kept_regenerated_with_a_new_seed_and_paid_for(
    spoken_board: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("f1gen.runner.judges", lambda lane: True)
    mute = make_take(tmp_path / "mute.mp4", sound=speech_fixture("silence"), size=(576, 896))
    line = make_take(tmp_path / "line.mp4", sound=speech_fixture("line"), size=(576, 896))
    backend = SeededBackend([_copy(mute), _copy(line)], price=0.2)

    summary = _runner(spoken_board, backend).run(RunOptions())

    entry = StateStore(WORK).read().scenes["s1"]
    bad, good = entry.takes
    assert summary.done == ["s1"] and summary.cost_usd == pytest.approx(0.4)
    assert entry.cost_usd == pytest.approx(0.4) and bad.cost_usd == good.cost_usd == 0.2
    assert bad.rejected and (WORK / bad.clip).is_file() and not good.rejected
    # Kept under its take's name alone: the next attempt's partial file never writes over it.
    assert file_digest(WORK / bad.clip) == bad.sha256 == file_digest(mute)
    assert not list((WORK / "clips").glob(".partial-*"))
    assert bad.seed != good.seed and backend.seeds == [bad.seed, good.seed]
    assert entry.clip == good.clip and entry.failures[-1].kind == "rejected"
    assert entry.failures[-1].message.startswith(f"take {bad.name} failed a hard check (")
    assert bad.checks is not None and bad.checks.startswith("fails ")
    # The checks ran on the clip under its partial's name; they are kept under the take's own.
    kept = json.loads((WORK / "checks.json").read_text())["takes"].values()
    assert sorted(result["take"] for result in kept) == sorted([bad.name, good.name])


def test_the_pick_says_why_naming_the_other_takes_by_their_names(
    spoken_board: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("f1gen.runner.judges", lambda lane: True)
    aloud = make_take(tmp_path / "aloud.mp4", sound=speech_fixture("prompt"), size=(576, 896))
    line = make_take(tmp_path / "line.mp4", sound=speech_fixture("line"), size=(576, 896))

    _runner(spoken_board, SeededBackend([_copy(aloud), _copy(line)])).run(RunOptions(takes=2))

    entry = StateStore(WORK).read().scenes["s1"]
    first, second = entry.takes
    assert entry.clip == second.clip
    assert entry.pick_reason == (
        f"passes every check (others: {first.name}: fails duration, cut-off, extra speech)"
    )


def test_without_checks_no_take_is_judged(
    spoken_board: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("f1gen.runner.judges", lambda lane: True)
    mute = make_take(tmp_path / "mute.mp4", sound=speech_fixture("silence"), size=(576, 896))

    _runner(spoken_board, SeededBackend([_copy(mute)])).run(RunOptions(checks=False))

    (take,) = StateStore(WORK).read().scenes["s1"].takes
    assert not take.rejected and take.checks is None


def test_a_pick_by_hand_is_what_the_cut_uses_until_auto(
    write_storyboard: Callable[..., Path],
    marker_clips: list[MarkerClip],
    cli: Callable[..., Any],
) -> None:
    board = write_storyboard(1)
    _runner(board, SeededBackend([_copy(m.path) for m in marker_clips[:2]])).run(
        RunOptions(takes=2)
    )
    loaded = storyboards.load(board).storyboard
    first, second = StateStore(WORK).read().scenes["s1"].takes
    assert scene_clip(loaded.scenes[0], StateStore(WORK).read(), WORK) == WORK / second.clip

    picked = cli("pick", "s1", "1", "--storyboard", board)

    assert picked.exit_code == 0, picked.stderr
    assert picked.stderr.strip() == f"s1: {first.name}: picked by hand (f1gen pick)"
    state = StateStore(WORK).read()
    assert scene_clip(loaded.scenes[0], state, WORK) == WORK / first.clip
    assert state.scenes["s1"].pick == first.name
    assert _runner(board, SeededBackend([])).run(RunOptions(takes=2)).skipped == ["s1"]
    assert StateStore(WORK).read().scenes["s1"].clip == first.clip

    back = cli("pick", "s1", "--auto", "--storyboard", board)

    assert back.exit_code == 0 and StateStore(WORK).read().scenes["s1"].clip == second.clip


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["s1"], "give the take to pick for 's1' (f1gen pick [STORYBOARD] SCENE [TAKE]) or --auto"),
        (["s1", "1", "--auto"], "give a take ('1') or --auto, not both"),
        (["s1", "1", "2"], "too many arguments (2): f1gen pick [STORYBOARD] SCENE [TAKE]"),
        (["s1", "9"], "scene 's1' has no take '9': give a number 1-1 or a name ("),
        (["nope", "1"], "no generated scene 'nope': give a scene's id or number"),
    ],
)
def test_a_pick_that_cannot_be_says_why(
    write_storyboard: Callable[..., Path],
    marker_clips: list[MarkerClip],
    cli: Callable[..., Any],
    args: list[str],
    message: str,
) -> None:
    board = write_storyboard(1)
    _runner(board, SeededBackend([_copy(marker_clips[0].path)])).run(RunOptions())

    result = cli("pick", *args, "--storyboard", board)

    assert result.exit_code == 2 and result.stderr.startswith(f"error: {message}")


def test_pick_takes_the_storyboard_first_like_every_other_command(
    write_storyboard: Callable[..., Path], marker_clips: list[MarkerClip], cli: Callable[..., Any]
) -> None:
    board = write_storyboard(1)
    _runner(board, SeededBackend([_copy(m.path) for m in marker_clips[:2]])).run(
        RunOptions(takes=2)
    )
    first = StateStore(WORK).read().scenes["s1"].takes[0]

    missing = cli("pick", board)
    picked = cli("pick", board, "s1", "1")

    assert missing.exit_code == 2
    assert missing.stderr == "error: name the scene to pick: f1gen pick [STORYBOARD] SCENE [TAKE]\n"
    assert picked.exit_code == 0, picked.stderr
    assert picked.stderr.strip() == f"s1: {first.name}: picked by hand (f1gen pick)"


def test_a_state_from_before_takes_loads_with_its_clip_as_the_one_take(tmp_path: Path) -> None:
    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / "01-s1-abcdef12.mp4").write_bytes(b"clip")
    old = {"version": 1, "storyboard": "b", "title": "t", "scenes": {"s1": {
        "id": "s1", "number": 1, "status": "done", "fingerprint": "abcdef12" * 8,
        "backend": "ovi:x", "steps": 40, "seed": 3, "clip": "clips/01-s1-abcdef12.mp4",
        "sha256": "d" * 64, "size": 4, "takes": 1, "cost_usd": 0.2}}}  # fmt: skip
    (tmp_path / "state.json").write_text(json.dumps(old))

    state = StateStore(tmp_path).read()

    (take,) = state.scenes["s1"].takes
    assert state.version == 2
    assert (take.name, take.clip, take.seed, take.size, take.cost_usd) == (
        "01-s1-abcdef12.mp4",
        "clips/01-s1-abcdef12.mp4",
        3,
        4,
        0.2,
    )
    assert take.fingerprint == "abcdef12" * 8 and take.backend == "ovi:x" and not take.rejected


def test_a_take_left_on_disk_before_its_checks_ran_is_judged_before_it_is_used(
    spoken_board: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("f1gen.runner.judges", lambda lane: True)
    mute = make_take(tmp_path / "mute.mp4", sound=speech_fixture("silence"), size=(576, 896))
    line = make_take(tmp_path / "line.mp4", sound=speech_fixture("line"), size=(576, 896))
    _runner(spoken_board, SeededBackend([_copy(mute)])).run(RunOptions(checks=False))
    state = json.loads((WORK / "state.json").read_text())
    state["scenes"]["s1"].update(status="pending", clip=None, sha256=None, takes=[])
    (WORK / "state.json").write_text(json.dumps(state))  # killed before its checks and the save
    backend = SeededBackend([_copy(line)])

    summary = _runner(spoken_board, backend).run(RunOptions())

    entry = StateStore(WORK).read().scenes["s1"]
    left, made = entry.takes
    assert backend.calls == ["s1"] and summary.done == ["s1"]
    assert left.rejected and left.checks is not None and left.checks.startswith("fails ")
    assert file_digest(WORK / left.clip) == file_digest(mute)  # kept, never picked
    assert entry.clip == made.clip and made.checks is not None and not made.rejected


def test_a_take_left_on_disk_is_adopted_without_overriding_the_pick_by_hand(
    write_storyboard: Callable[..., Path],
    marker_clips: list[MarkerClip],
    cli: Callable[..., Any],
) -> None:
    board = write_storyboard(1)
    made = SeededBackend([_copy(m.path) for m in marker_clips[:3]])
    _runner(board, made).run(RunOptions(takes=2))
    assert cli("pick", "s1", "1", "--storyboard", board).exit_code == 0
    _runner(board, made).run(RunOptions(takes=3))
    state = json.loads((WORK / "state.json").read_text())
    del state["scenes"]["s1"]["takes"][2]  # killed between the third take's keep and the save
    (WORK / "state.json").write_text(json.dumps(state))

    summary = _runner(board, SeededBackend([])).run(RunOptions(takes=3))

    entry = StateStore(WORK).read().scenes["s1"]
    first, _, left = entry.takes
    assert summary.skipped == ["s1"] and (WORK / left.clip).is_file()
    assert (entry.clip, entry.pick, entry.pick_reason) == (
        first.clip,
        first.name,
        "picked by hand (f1gen pick)",
    )


def test_a_scene_with_a_good_take_is_done_when_its_extra_take_fails_every_attempt(
    write_storyboard: Callable[..., Path],
    marker_clips: list[MarkerClip],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    board = write_storyboard(2, extra={"defaults": {"takes": 2}})
    aborted = failing("GPU task aborted")
    backend = ScriptedBackend([good(marker_clips[0]), good(marker_clips[1]), *[aborted] * 6])
    loaded = storyboards.load(board).storyboard

    monkeypatch.setattr(pipeline, "_lanes", lambda request: [backend])  # a scripted backend
    request = GenerateRequest(loaded, workdir=WORK, backend="animatic", options=RunOptions(),
                              settings=load_settings())  # fmt: skip

    outcome = pipeline.run(request, emit=lambda event: None)

    assert backend.calls == ["s1", "s2", "s1", "s1", "s1", "s2", "s2", "s2"]
    summary = outcome.summary
    assert (summary.failed, summary.short, summary.remaining) == ([], ["s1", "s2"], [])
    assert outcome.exit_code == 0
    assert "; short of takes 2 (s1, s2); " in outcome.line
    assert outcome.line.endswith(
        "stopped: all scenes done, some with fewer takes than asked for; next: f1gen stitch "
        "(or --stitch) makes the cut; re-run to try the missing takes again"
    )
    entry = StateStore(WORK).read().scenes["s1"]
    assert entry.status == "done" and entry.shortfall == (
        "1 of 2 takes: the next failed 3 attempts (GPU task aborted); re-run to try again"
    )
    rows = table(loaded, WORK).rows
    assert [(row.state, row.note) for row in rows] == [("done", entry.shortfall)] * 2
    assert [source.name for source in collect(loaded, WORK, StateStore(WORK).read())] == [
        "s1",
        "s2",
    ]
    # The next run tries the missing takes again; once made, the scene is no longer short.
    again = ScriptedBackend([good(marker_clips[2]), good(marker_clips[3])])
    assert _runner(board, again).run(RunOptions()).done == ["s1", "s2"]
    assert StateStore(WORK).read().scenes["s1"].shortfall is None


def _two_takes_then_the_pick_deleted(
    board: Path, marker_clips: list[MarkerClip], *, takes: int = 2
) -> list[Any]:
    """Make takes of scene s1 (no checks: the newest is picked), then delete the picked one."""
    backend = SeededBackend([_copy(m.path) for m in marker_clips[:takes]])
    _runner(board, backend).run(RunOptions(takes=takes))
    made = StateStore(WORK).read().scenes["s1"].takes
    return made


def test_a_deleted_pick_with_one_take_left_is_re_picked_and_said_by_status_and_stitch(
    write_storyboard: Callable[..., Path], marker_clips: list[MarkerClip], cli: Callable[..., Any]
) -> None:
    board = write_storyboard(1)
    first, second = _two_takes_then_the_pick_deleted(board, marker_clips)
    (WORK / second.clip).unlink()  # the picked take (the newest: no checks ran)
    said = (
        f"scenes[1] (s1): its picked take {second.name} is missing or changed: re-picked "
        f"{first.name} (the only take left)"
    )

    status = cli("status", board)

    assert status.exit_code == 0, status.stderr
    assert "1/1 scenes ready" in status.stdout
    assert f"1 (s1): {said}: the next stitch or generate records it" in status.stdout
    assert StateStore(WORK).read().scenes["s1"].clip == second.clip  # status changes nothing

    stitched = cli("stitch", board)

    assert stitched.exit_code == 0, stitched.stderr
    assert said in stitched.stderr.splitlines()
    entry = StateStore(WORK).read().scenes["s1"]
    assert entry.clip == first.clip and entry.pick is None
    assert (
        entry.pick_reason == f"re-picked: {second.name} is missing or changed; the only take left"
    )


def test_generate_says_when_it_re_picks_a_deleted_pick_and_makes_nothing(
    write_storyboard: Callable[..., Path], marker_clips: list[MarkerClip]
) -> None:
    board = write_storyboard(1)
    first, second = _two_takes_then_the_pick_deleted(board, marker_clips)
    (WORK / second.clip).unlink()
    events: list[Any] = []
    backend = SeededBackend([])

    summary = Runner(storyboards.load(board).storyboard, workdir=WORK, lanes=[backend],
                     emit=events.append).run(RunOptions())  # fmt: skip

    assert backend.calls == [] and summary.skipped == ["s1"]
    assert [e.message for e in events if isinstance(e, Notice)] == [
        f"scenes[1] (s1): its picked take {second.name} is missing or changed: re-picked "
        f"{first.name} (the only take left)"
    ]
    assert StateStore(WORK).read().scenes["s1"].clip == first.clip


def test_a_deleted_pick_by_hand_is_not_re_picked_and_the_message_says_how_to_pick(
    write_storyboard: Callable[..., Path], marker_clips: list[MarkerClip], cli: Callable[..., Any]
) -> None:
    board = write_storyboard(1)
    first, second, third = _two_takes_then_the_pick_deleted(board, marker_clips, takes=3)
    assert cli("pick", board, "s1", "3").exit_code == 0
    (WORK / third.clip).unlink()
    said = (
        f"scenes[1] (s1): its picked take {third.name} is missing or changed, and it was picked "
        f"by hand: pick one of its takes (1 {first.name}, 2 {second.name}) with "
        f"'f1gen pick {board} s1 1', or the checks' choice with 'f1gen pick {board} s1 --auto'"
    )

    status = cli("status", board)
    stitched = cli("stitch", board)
    events: list[Any] = []
    Runner(storyboards.load(board).storyboard, workdir=WORK, lanes=[SeededBackend([])],
           emit=events.append).run(RunOptions())  # fmt: skip

    assert "0/1 scenes ready" in status.stdout and f"1 (s1): {said}" in status.stdout
    assert "pick needed" in status.stdout
    assert stitched.exit_code == 1 and stitched.stderr.splitlines() == [f"error: {said}"]
    assert [e.message for e in events if isinstance(e, Notice)] == [said]
    assert StateStore(WORK).read().scenes["s1"].clip == third.clip  # nothing chosen for them
    # What the message says to do, done: the stitch goes on.
    assert cli("pick", board, "s1", "1").exit_code == 0  # as the message says
    assert cli("stitch", board).exit_code == 0


def test_a_deleted_pick_among_checked_takes_is_re_picked_by_the_checks(
    spoken_board: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("f1gen.runner.judges", lambda lane: True)
    aloud = make_take(tmp_path / "aloud.mp4", sound=speech_fixture("prompt"), size=(576, 896))
    line = make_take(tmp_path / "line.mp4", sound=speech_fixture("line"), size=(576, 896))
    backend = SeededBackend([_copy(aloud), _copy(line), _copy(line)])
    _runner(spoken_board, backend).run(RunOptions(takes=3))
    first, second, third = StateStore(WORK).read().scenes["s1"].takes
    assert StateStore(WORK).read().scenes["s1"].clip == second.clip  # ties go to the earlier
    (WORK / second.clip).unlink()
    events: list[Any] = []

    Runner(storyboards.load(spoken_board).storyboard, workdir=WORK, lanes=[SeededBackend([])],
           emit=events.append).run(RunOptions(takes=2))  # fmt: skip

    reason = f"by its checks: passes every check (others: {first.name}: fails duration, cut-off, extra speech)"
    assert [e.message for e in events if isinstance(e, Notice)] == [
        f"scenes[1] (s1): its picked take {second.name} is missing or changed: re-picked "
        f"{third.name} ({reason})"
    ]
    entry = StateStore(WORK).read().scenes["s1"]
    assert entry.clip == third.clip
    assert entry.pick_reason == f"re-picked: {second.name} is missing or changed; {reason}"
