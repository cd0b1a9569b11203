"""Checks of a take: what was said, how it sounds, what the picture does; the choice of a take."""

from __future__ import annotations

from pathlib import Path

import pytest

from f1gen.checks import Check, TakeChecks, check_take, choose
from f1gen.errors import MediaError
from tests.support.takes import fixture_scene, make_take, speech_fixture

FIXTURES = ("line", "silence", "prompt", "cutoff")


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> dict[str, TakeChecks]:
    """The four speech fixtures, each in an Ovi-shaped clip, checked against the fixtures' scene."""
    folder = tmp_path_factory.mktemp("takes")
    scene = fixture_scene()
    return {
        name: check_take(
            make_take(folder / f"{name}.mp4", sound=speech_fixture(name)),
            line=scene["line"],
            prompt=scene["prompt"],
        )
        for name in FIXTURES
    }


def levels(result: TakeChecks) -> dict[str, str]:
    return {check.name: check.level for check in result.checks}


def test_the_line_spoken_passes_every_check(checked: dict[str, TakeChecks]) -> None:
    good = checked["line"]
    assert levels(good) == {
        "loudness": "pass",
        "clipping": "pass",
        "speech": "pass",
        "duration": "pass",
        "cut-off": "pass",
        "words": "pass",
        "extra speech": "pass",
        "black": "pass",
        "frozen": "pass",
    }
    assert not good.rejected
    words = good.named("words")
    assert words is not None and words.value == 100
    assert words.reason == "5 of 5 words of the line heard"


def test_silence_for_a_line_is_a_failed_attempt(checked: dict[str, TakeChecks]) -> None:
    silent = checked["silence"]
    speech = silent.named("speech")
    assert speech == Check(
        "speech", "fail", 0.0, "s", "no speech, but the scene has a line", hard=True
    )
    assert silent.rejected
    assert silent.named("words") is None  # nothing to recognize


def test_the_whole_prompt_read_aloud_is_much_too_long_with_speech_beyond_the_line(
    checked: dict[str, TakeChecks],
) -> None:
    prompt = checked["prompt"]
    assert levels(prompt)["duration"] == "fail"
    assert levels(prompt)["extra speech"] == "fail"
    duration = prompt.named("duration")
    assert duration is not None
    assert duration.reason.startswith("much too long: ")
    assert duration.reason.endswith(
        "for a 5-word line (about 2.0 s expected): the prompt read aloud?"
    )
    extra = prompt.named("extra speech")
    assert extra is not None and extra.value is not None and extra.value >= 1.5
    assert "celebrating" in extra.reason  # words of the action, not of the line
    assert not prompt.rejected  # advisory: choose() ranks it below a good take


def test_a_cut_off_line_runs_to_the_last_frame_and_misses_words(
    checked: dict[str, TakeChecks],
) -> None:
    cut = checked["cutoff"]
    assert levels(cut)["cut-off"] == "fail"
    assert levels(cut)["duration"] == "pass"
    assert levels(cut)["extra speech"] == "pass"
    assert levels(cut)["words"] in ("warn", "fail")
    cutoff = cut.named("cut-off")
    assert cutoff is not None
    assert cutoff.reason.startswith("speech runs to the last frame (")
    assert cutoff.reason.endswith("): the line is cut off?")


def test_the_four_cases_fail_different_checks(checked: dict[str, TakeChecks]) -> None:
    failed = {
        name: {c.name for c in result.checks if c.level == "fail"}
        for name, result in checked.items()
    }
    assert failed == {
        "line": set(),
        "silence": {"speech"},
        "prompt": {"duration", "cut-off", "extra speech"},
        "cutoff": {"cut-off"},
    }


def test_choose_picks_the_good_take_and_says_why(checked: dict[str, TakeChecks]) -> None:
    takes = [checked[name] for name in ("silence", "prompt", "cutoff", "line")]
    choice = choose(takes)
    assert (choice.index, choice.take, choice.usable) == (3, "line.mp4", True)
    assert choice.reason == (
        "passes every check (others: silence.mp4: fails speech; "
        "prompt.mp4: fails duration, cut-off, extra speech; "
        "cutoff.mp4: fails cut-off; warns on words)"
    )


def test_a_scene_without_a_line_expects_no_speech(tmp_path: Path) -> None:
    quiet = check_take(make_take(tmp_path / "q.mp4", sound=speech_fixture("silence")), line=None)
    talking = check_take(make_take(tmp_path / "t.mp4", sound=speech_fixture("line")), line=None)
    assert quiet.named("speech") == Check(
        "speech", "pass", 0.0, "s", "no speech, and the scene has no line"
    )
    speech = talking.named("speech")
    assert speech is not None and speech.level == "warn"
    assert speech.reason.endswith(" s of speech, but the scene has no line")
    assert {c.name for c in talking.checks} == {"loudness", "clipping", "speech", "black", "frozen"}


def test_words_are_checked_only_for_english_lines(tmp_path: Path) -> None:
    clip = make_take(tmp_path / "es.mp4", sound=speech_fixture("line"))
    result = check_take(clip, line="¡Sí! ¡Qué maravilla! ¡Otra victoria más!")
    assert result.named("words") is None
    assert result.notes == ("words not checked: the line is not English",)


@pytest.mark.parametrize(
    ("picture", "black", "frozen", "rejected"),
    [
        ("moving", "pass", "pass", False),
        ("black", "fail", "fail", True),
        ("still", "pass", "fail", True),
        ("dark-start", "warn", "pass", False),
        ("drift", "pass", "pass", False),  # low texture that moves slowly is not a still
    ],
)
def test_picture_checks(
    tmp_path: Path, picture: str, black: str, frozen: str, rejected: bool
) -> None:
    clip = make_take(tmp_path / "p.mp4", sound="anullsrc", picture=picture)  # type: ignore[arg-type]
    result = check_take(clip, line=None)
    assert (levels(result)["black"], levels(result)["frozen"]) == (black, frozen)
    assert result.rejected is rejected


def test_a_backend_that_moves_a_still_image_itself_is_not_judged_frozen(tmp_path: Path) -> None:
    clip = make_take(tmp_path / "p.mp4", sound="anullsrc", picture="still")
    result = check_take(clip, line=None, moves=False)
    assert result.named("frozen") is None
    assert levels(result)["black"] == "pass"
    assert result.notes == ("frozen not checked: the backend moves a still image itself",)


@pytest.mark.parametrize(
    ("source", "name", "level", "reason"),
    [
        ("anullsrc", "loudness", "fail", "silent: no sound at all"),
        ("sine=frequency=440:sample_rate=16000:duration=5.04,volume=0.02", "loudness", "warn",
         "very quiet (below -45 dBFS)"),
        ("sine=frequency=440:sample_rate=16000:duration=5.04,volume=16", "clipping", "fail", None),
        ("anoisesrc=color=pink:amplitude=0.1:sample_rate=16000:duration=5.04", "clipping", "pass",
         "no clipping"),
    ],
)  # fmt: skip
def test_sound_levels(
    tmp_path: Path, source: str, name: str, level: str, reason: str | None
) -> None:
    result = check_take(make_take(tmp_path / "s.mp4", sound=source), line=None)
    check = result.named(name)
    assert check is not None and check.level == level
    if reason is not None:
        assert check.reason == reason
    else:
        assert check.reason.endswith("% of samples at full scale")


def test_a_take_without_sound_is_rejected(tmp_path: Path) -> None:
    result = check_take(make_take(tmp_path / "v.mp4", sound=None), line="Hello there.")
    assert result.named("sound") == Check(
        "sound", "fail", None, "", "the take has no sound track", hard=True
    )
    assert result.rejected


def test_a_sound_file_is_checked_without_a_picture() -> None:
    result = check_take(speech_fixture("line"), line=fixture_scene()["line"])
    assert result.named("black") is None
    assert result.notes == ("picture not checked: no video track",)
    assert result.worst == "pass"


def test_an_unreadable_take_is_a_media_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all")
    with pytest.raises(MediaError, match=r"^bad\.mp4: cannot decode its sound \("):
        check_take(bad, line=None)


def take(name: str, *checks: tuple[str, str, bool]) -> TakeChecks:
    return TakeChecks(
        name,
        tuple(Check(n, lv, 1.0, "s", f"{n} {lv}", hard=h) for n, lv, h in checks),  # type: ignore[arg-type]
    )


def test_choose_prefers_usable_then_fewer_failures_then_fewer_warnings() -> None:
    rejected = take("a.mp4", ("speech", "fail", True))
    two_fails = take("b.mp4", ("duration", "fail", False), ("cut-off", "fail", False))
    one_fail = take("c.mp4", ("cut-off", "fail", False), ("words", "warn", False))
    one_warn = take("d.mp4", ("words", "warn", False))
    assert choose([rejected, two_fails]).take == "b.mp4"
    assert choose([two_fails, one_fail]).take == "c.mp4"
    assert choose([one_fail, one_warn]).take == "d.mp4"


def test_choose_keeps_the_earlier_of_equal_takes() -> None:
    first, second = take("1.mp4", ("speech", "pass", True)), take("2.mp4", ("speech", "pass", True))
    assert choose([first, second]).index == 0


def test_choose_says_when_no_take_is_usable() -> None:
    choice = choose([take("1.mp4", ("speech", "fail", True))])
    assert not choice.usable
    assert choice.reason == (
        "no usable take: every take failed a hard check; the only take: fails speech"
    )


def test_choose_needs_a_take() -> None:
    with pytest.raises(ValueError, match="at least one take"):
        choose([])


def test_results_survive_a_round_trip_through_json(checked: dict[str, TakeChecks]) -> None:
    for result in checked.values():
        assert TakeChecks.from_dict(result.as_dict()) == result


def test_checks_kept_by_another_command_meanwhile_survive_a_save(
    checked: dict[str, TakeChecks], tmp_path: Path
) -> None:
    from f1gen.checks.cache import CheckCache

    run, review = CheckCache(tmp_path), CheckCache(tmp_path)  # a generate and a review at once
    run.put("by-the-run", checked["line"])
    run.save()
    review.put("by-the-review", checked["silence"])
    review.save()  # loaded before the run's save

    kept = CheckCache(tmp_path)
    assert kept.get("by-the-run") == checked["line"]
    assert kept.get("by-the-review") == checked["silence"]
