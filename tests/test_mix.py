"""The cut's mix: smooth seams between room tones, speech untouched, music and a bed under it."""

from __future__ import annotations

import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from f1gen import storyboard
from f1gen.stitch.cut import CutOptions, Source, StitchResult, join
from f1gen.stitch.mix import DUCK_ATTACK, DUCK_RELEASE, SPEECH_MARGIN, Layer
from tests.support import mediatools
from tests.support.mediatools import FRAME, VoicedClip, ebur128

FLOORS = [-40.0, -76.0, -50.0, -70.0, -44.0]  # neighbours 20 to 36 dB apart
SLOT = mediatools.FRAMES / mediatools.FPS


@pytest.fixture(scope="module")
def voiced(tmp_path_factory: pytest.TempPathFactory) -> list[VoicedClip]:
    """Five Ovi-shaped clips, each with a room tone of its own, a line, and a marker in it."""
    folder = tmp_path_factory.mktemp("voiced")
    return [
        mediatools.make_voiced_clip(folder / f"v{n}.mp4", floor_db=floor, seed=n,
                                    marker_frame=48 + 6 * n)
        for n, floor in enumerate(FLOORS)
    ]  # fmt: skip


def _sources(clips: list[VoicedClip]) -> list[Source]:
    """The clips, their speech known (as the take checks keep it)."""
    return [Source(c.path.stem, c.path, speech=(c.speech,)) for c in clips]


def _joins_steps(path: Path, clips: int) -> list[float]:
    """The largest step between neighbouring 50 ms windows within 1.2 s of each join."""
    levels, _ = mediatools.levels_db(path)
    steps = []
    for n in range(1, clips):
        at = round(n * SLOT / 0.05)
        steps.append(float(np.abs(np.diff(levels[at - 24 : at + 24])).max()))
    return steps


def _level(path: Path, start: float, end: float) -> float:
    """The level of a stretch of a file's sound, in dBFS."""
    levels, _ = mediatools.levels_db(path)
    part = levels[round(start / 0.05) : round(end / 0.05)]
    return float(10 * np.log10(np.mean(10 ** (part / 10))))


def test_joins_between_room_tones_20_to_36_db_apart_step_at_most_3_db(
    voiced: list[VoicedClip], tmp_path: Path
) -> None:
    plain = join(_sources(voiced), output=tmp_path / "plain.mp4", scratch=tmp_path / "tmp",
                 options=CutOptions(loudnorm=False, seams=False))  # fmt: skip
    mixed = join(_sources(voiced), output=tmp_path / "mixed.mp4", scratch=tmp_path / "tmp",
                 options=CutOptions(loudnorm=False))  # fmt: skip

    assert min(_joins_steps(plain.output, 5)) > 20  # each join was a cliff (and a dropout)
    assert max(_joins_steps(mixed.output, 5)) <= 3.0
    assert mixed.mix is not None and len(mixed.mix.seams) == 4
    for n, clip in enumerate(mixed.clips):  # speech at its own level, where it was
        start, end = (clip.start + t for t in voiced[n].speech)
        assert abs(_level(mixed.output, start + 0.1, end - 0.1)
                   - _level(plain.output, start + 0.1, end - 0.1)) <= 0.5  # fmt: skip
    worst, frames, _ = mediatools.worst_offset(mixed.output)
    assert len(frames) == 5 and worst <= FRAME


def test_a_bang_near_a_clips_end_stays_in_its_slot_unchanged_and_is_no_seam_step(
    tmp_path: Path,
) -> None:
    # room tones 36 dB apart (long seams), a bang 0.15 s before the first clip's slot ends
    clips = [
        mediatools.make_voiced_clip(tmp_path / "bang.mp4", floor_db=-40.0, seed=11, bang=4.80),
        mediatools.make_voiced_clip(tmp_path / "quiet.mp4", floor_db=-76.0, seed=12),
    ]
    plain = join(_sources(clips), output=tmp_path / "plain.mp4", scratch=tmp_path / "tmp",
                 options=CutOptions(loudnorm=False, seams=False, fade_ms=0))  # fmt: skip
    mixed = join(_sources(clips), output=tmp_path / "mixed.mp4", scratch=tmp_path / "tmp",
                 options=CutOptions(loudnorm=False))  # fmt: skip
    before, _ = mediatools.levels_db(plain.output)
    after, _ = mediatools.levels_db(mixed.output)
    join_at = round(SLOT / 0.05)  # the window the join falls in
    room = float(np.median(before[join_at - 16 : join_at - 8]))

    bang = [k for k in range(join_at - 8, join_at) if before[k] > room + 6]
    assert bang  # the bang is in the clip, and in the mixed cut as loud as it was
    assert all(abs(after[k] - before[k]) <= 1.0 for k in bang)
    head = after[join_at + 1 : join_at + 1 + 24]  # the next slot up to its speech: nothing of
    assert (np.diff(head) <= 1.0).all()  # the bang in it, the outgoing room tone only falls
    steps = []
    for k in range(join_at - 24, join_at + 24):
        if k in bang or k + 1 in bang:
            continue  # the bang is content, not a seam
        own = k + 1 < join_at and min(before[k], before[k + 1]) > -100  # the clip's own sound
        steps.append(abs(after[k + 1] - after[k]) - (abs(before[k + 1] - before[k]) if own else 0))
    assert max(steps) <= 3.0  # around the bang the join is smooth


def test_the_room_tones_move_toward_the_median_within_12_db_and_are_recorded(
    voiced: list[VoicedClip], tmp_path: Path
) -> None:
    result = join(_sources(voiced), output=tmp_path / "cut.mp4", scratch=tmp_path / "tmp",
                  options=CutOptions(loudnorm=False))  # fmt: skip

    assert result.mix is not None
    report = result.mix.as_dict()
    gains = [c["floor_gain_db"] for c in report["clips"]]  # type: ignore[index]
    assert gains[2] == 0.0  # the median's own clip
    assert gains[1] == 12.0 and gains[3] == 12.0  # the quiet rooms raised, by 12 dB at most
    assert gains[0] < 0 and gains[4] < 0
    floors = [_level(result.output, c.start + 3.5, c.start + 4.6) for c in result.clips]
    assert max(floors) - min(floors) < max(FLOORS) - min(FLOORS) - 20
    assert report["seams"][0]["between"] == ["v0", "v1"]  # type: ignore[index]
    assert all(s["handle_before"] > 0 and s["handle_after"] > 0 for s in report["seams"])  # type: ignore[index,union-attr]


def _band_levels(path: Path, low: float, high: float) -> tuple[np.ndarray, float]:
    """The level (dB) of a file's sound between low and high Hz, in 50 ms windows."""
    with av.open(str(path)) as container:
        frames = [f.to_ndarray() for f in container.decode(audio=0)]
        rate = container.streams.audio[0].codec_context.sample_rate
    sound = np.concatenate([f.reshape(2, -1) if f.ndim > 1 else f[None] for f in frames], axis=1)
    mono = sound.mean(axis=0)
    size = round(0.05 * rate)
    count = len(mono) // size
    spectrum = np.fft.rfft(mono[: count * size].reshape(count, size), axis=1)
    freqs = np.fft.rfftfreq(size, 1 / rate)
    band = (freqs >= low) & (freqs <= high)
    power = (np.abs(spectrum[:, band]) ** 2).sum(axis=1)
    return 10 * np.log10(power + 1e-20), 0.05


def _write_band_noise(path: Path, *, seconds: float, low: float, high: float, seed: int) -> Path:
    """A stereo 48 kHz WAV of noise between low and high Hz (above anything a 16 kHz clip holds)."""
    rate = 48_000
    noise = np.random.default_rng(seed).standard_normal((2, round(seconds * rate)))
    spectrum = np.fft.rfft(noise, axis=1)
    freqs = np.fft.rfftfreq(noise.shape[1], 1 / rate)
    spectrum[:, (freqs < low) | (freqs > high)] = 0
    band = np.fft.irfft(spectrum, n=noise.shape[1], axis=1)
    band = band / np.abs(band).max() * 0.5
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((band.T * 32767).astype("<i2").tobytes())
    return path


def _speech_in_cut(result: StitchResult, clips: list[VoicedClip]) -> list[tuple[float, float]]:
    return [
        (c.start + v.speech[0], c.start + v.speech[1])
        for c, v in zip(result.clips, clips, strict=True)
    ]


def test_music_ducks_under_every_line_fades_loops_seamlessly_and_the_loudness_holds(
    voiced: list[VoicedClip], tmp_path: Path, ffmpeg: str
) -> None:
    tune = _write_band_noise(tmp_path / "tune.wav", seconds=2.5, low=11_000, high=14_000, seed=7)
    music = Layer(tune, volume=-18.0, duck=12.0, fade_in=1.0, fade_out=2.0)

    result = join(_sources(voiced), output=tmp_path / "cut.mp4", scratch=tmp_path / "tmp",
                  layers=[music])  # fmt: skip

    levels, step = _band_levels(result.output, 11_000, 14_000)
    lines = _speech_in_cut(result, voiced)
    total = result.duration
    for n, (start, end) in enumerate(lines):
        under = levels[round(start / step) + 2 : round(end / step) - 2].mean()
        # between lines: after the last one's release (or the fade in), before this one's attack
        free = lines[n - 1][1] + SPEECH_MARGIN + DUCK_RELEASE if n else 1.0
        lead = start - SPEECH_MARGIN - DUCK_ATTACK
        between = levels[round(free / step) + 1 : round(lead / step) - 1].mean()
        assert between - under >= 12.0, f"line {n + 1}: {between - under:.1f} dB"
    assert levels[:2].mean() < levels[round(1.0 / step) : round(1.3 / step)].mean() - 15  # in
    assert levels[-2:].mean() < levels[round((total - 2.5) / step) : round((total - 2.1) / step)].mean() - 15  # fmt: skip
    steady = [
        k for k in range(round(1.0 / step), round((total - 2.0) / step))
        if all(k * step > e + SPEECH_MARGIN + DUCK_RELEASE
               or (k + 1) * step < s - SPEECH_MARGIN - DUCK_ATTACK for s, e in lines)
    ]  # fmt: skip
    jumps = [abs(levels[k + 1] - levels[k]) for k in steady if k + 1 in steady]
    assert len(jumps) > 40 and max(jumps) <= 3.0  # the 2.5 s file looped many times, seamlessly
    integrated, peak = ebur128(ffmpeg, result.output)
    assert abs(integrated - -14.0) <= 1.0 and peak <= -1.0
    assert result.mix is not None and result.mix.as_dict()["layers"][0]["duck_db"] == 12.0  # type: ignore[index]


def test_music_off_on_a_scene_is_silence_there_and_a_bed_plays_from_its_scene_on(
    voiced: list[VoicedClip], tmp_path: Path
) -> None:
    tune = _write_band_noise(tmp_path / "tune.wav", seconds=3.0, low=11_000, high=14_000, seed=1)
    room = _write_band_noise(tmp_path / "room.wav", seconds=3.0, low=9_000, high=10_000, seed=2)
    third = (2 * SLOT, 3 * SLOT)
    layers = [Layer(tune, volume=-18.0, duck=12.0, off=(third,)),
              Layer(room, volume=-20.0, duck=6.0, begin=2 * SLOT, crossfade_in=1.0)]  # fmt: skip

    result = join(_sources(voiced), output=tmp_path / "cut.mp4", scratch=tmp_path / "tmp",
                  options=CutOptions(loudnorm=False), layers=layers)  # fmt: skip

    music, step = _band_levels(result.output, 11_000, 14_000)
    bed, _ = _band_levels(result.output, 9_000, 10_000)
    playing = music[round(SLOT / step) + 2 : round((SLOT + 1.2) / step)].mean()
    silent = music[round((third[0] + 0.1) / step) : round((third[1] - 0.1) / step)].mean()
    assert playing - silent >= 30  # what is left is the bed's band leaking into the measure
    assert bed[round(SLOT / step) : round(2 * SLOT / step) - 2].mean() < bed[round((3 * SLOT + 0.2) / step) : round((3 * SLOT + 1.2) / step)].mean() - 30  # fmt: skip
    line = [round((3 * SLOT + t) / step) for t in voiced[3].speech]
    under = bed[line[0] + 2 : line[1] - 2].mean()
    around = bed[round((3 * SLOT + 0.2) / step) : round((3 * SLOT + 1.2) / step)].mean()
    assert around - under >= 6.0 - 0.5


@pytest.fixture
def sounds(tmp_path: Path) -> Path:
    """Sound files good and bad, beside the storyboard."""
    _write_band_noise(tmp_path / "tune.wav", seconds=2.0, low=200, high=2000, seed=3)
    _write_band_noise(tmp_path / "blip.wav", seconds=0.4, low=200, high=2000, seed=4)
    (tmp_path / "broken.mp3").write_bytes(b"ID3 this is not an mp3 at all" * 20)
    (tmp_path / "notes.txt").write_text("la la la")
    return tmp_path


@pytest.mark.parametrize(
    ("extra", "message"),
    [({"music": {"file": "gone.mp3"}}, "music.file: gone.mp3: no such file: check the path (it is relative to the storyboard)"),
     ({"music": {"file": "blip.wav"}}, "music.file: blip.wav: lasts 0.40 s: a sound under the cut must last at least 1 s: give a longer one"),
     ({"music": {"file": "notes.txt"}}, "music.file: notes.txt: is not a sound file f1gen reads: use one of wav, flac, mp3, m4a, aac, ogg, opus"),
     ({"music": {"file": "tune.wav", "start": 1.5}}, "music.file: tune.wav: lasts 2.00 s: starting at 1.5 s leaves less than 1 s: start earlier"),
     ({"music": {"file": "/dev/zero"}}, "music.file: /dev/zero: not a regular file (a device, a pipe or a socket): name a sound file"),
     ({"music": {"file": "broken.mp3"}}, "music.file: broken.mp3: does not decode as sound: export it again as wav, flac, mp3, m4a, aac, ogg or opus"),
     ({"music": {"file": "https://example.com/a.mp3"}}, "music.file: https://example.com/a.mp3: a URL is not read: download the file and give its path"),
     ({"ambience": "gone.wav"}, "ambience: gone.wav: no such file: check the path (it is relative to the storyboard)"),
     ({"ambience": {"file": "blip.wav", "volume": -30}}, "ambience.file: blip.wav: lasts 0.40 s: a sound under the cut must last at least 1 s: give a longer one")],
)  # fmt: skip
def test_bad_music_or_ambience_is_refused_by_validate_naming_the_field(
    sounds: Path, extra: dict[str, Any], message: str, write_storyboard: Callable[..., Path],
    cli: Callable[..., Any],
) -> None:  # fmt: skip
    board = write_storyboard(2, extra=extra)

    result = cli("validate", board)

    assert (result.exit_code, result.stderr) == (2, f"error: {board}: {message}\n")


def test_music_that_does_not_decode_is_refused_and_generate_spends_nothing(
    sounds: Path, write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    board = write_storyboard(2, extra={"music": {"file": "broken.mp3"}})

    result = cli("generate", board, "--backend", "animatic")

    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {board}: music.file: broken.mp3: does not decode")
    assert not (sounds / "out").exists()


def test_music_given_as_a_file_name_alone_is_its_file_with_the_default_levels(
    sounds: Path, write_storyboard: Callable[..., Path]
) -> None:
    board = write_storyboard(2, extra={"music": "tune.wav"})

    music = storyboard.load(board).storyboard.music

    assert music is not None
    assert (music.file, music.volume, music.duck) == (sounds / "tune.wav", -18.0, 12.0)


def test_a_scene_ambience_and_music_off_are_read(
    sounds: Path, write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    scenes = [{"id": "a", "image": "images/p0.png", "action": "Waves.", "music": False},
              {"id": "b", "image": "images/p1.png", "action": "Waves.", "ambience": "tune.wav"},
              {"id": "c", "image": "images/p1.png", "action": "Waves.", "music": "loud"}]  # fmt: skip
    board = write_storyboard(scenes, extra={"music": {"file": "tune.wav"}})

    result = cli("validate", board)

    assert (result.exit_code, result.stderr) == (
        2,
        f"error: {board}: scenes[3] (c).music: 'loud': write 'music: off' for a silence in the "
        "music over this scene\n",
    )


def test_an_off_with_nothing_playing_to_silence_is_a_warning(
    sounds: Path, write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    scenes = [{"id": "a", "image": "images/p0.png", "action": "Waves.", "ambience": False},
              {"id": "b", "image": "images/p1.png", "action": "Waves.", "ambience": "tune.wav"},
              {"id": "c", "image": "images/p1.png", "action": "Waves.", "music": False,
               "ambience": False}]  # fmt: skip
    board = write_storyboard(scenes)

    result = cli("validate", board)

    assert (result.exit_code, result.stderr) == (
        0,
        f"warning: {board}: scenes[1] (a).ambience: off, but no bed plays here: remove it\n"
        f"warning: {board}: scenes[3] (c).music: off, but the storyboard has no music: give it "
        "'music:' or remove this\n"
        f"{board}: 3 scenes, 2 warnings: ok\n",
    )


def test_stitch_lays_the_storyboards_music_and_bed_records_them_and_turns_each_off(
    sounds: Path, write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    import json

    scenes = [{"id": f"s{n}", "image": f"images/p{n % 2}.png", "action": f"Driver {n} waves.",
               "speech": f"Line number {n}."} for n in range(1, 4)]  # fmt: skip
    scenes[1]["music"] = False  # what YAML reads `music: off` as
    board = write_storyboard(scenes, extra={"music": {"file": "tune.wav", "volume": -20},
                                            "ambience": {"file": "tune.wav", "volume": -30}})  # fmt: skip
    assert cli("generate", board, "--backend", "animatic").exit_code == 0

    mixed = cli("stitch", board, "--no-loudnorm", "--json")
    plain = cli("stitch", board, "--no-loudnorm", "--no-seams", "--no-music", "--no-ambience",
                "-o", "plain.mp4", "--json")  # fmt: skip

    assert mixed.exit_code == 0, mixed.stderr
    mix = json.loads(mixed.stdout)["mix"]
    assert [c["scene"] for c in mix["clips"]] == ["s1", "s2", "s3"]
    assert [s["between"] for s in mix["seams"]] == [["s1", "s2"], ["s2", "s3"]]
    music, bed = mix["layers"]
    assert (music["volume_db"], music["duck_db"], bed["volume_db"], bed["duck_db"]) == (
        -20,
        12,
        -30,
        6,
    )
    assert music["off"] == [
        [pytest.approx(121 / 24, abs=0.001), pytest.approx(2 * 121 / 24, abs=0.001)]
    ]
    manifest = json.loads(Path("out/board/manifest.json").read_text())
    assert manifest["mix"] == mix
    speech = json.loads(Path("out/board/checks.json").read_text())["speech"]
    assert len(speech) == 3  # where each take speaks, kept by its checks for the mix
    assert plain.exit_code == 0 and json.loads(plain.stdout)["mix"] is None


def test_a_cut_whose_floors_are_known_is_mixed_in_one_pass_to_the_same_sound(
    voiced: list[VoicedClip], tmp_path: Path
) -> None:
    from dataclasses import replace

    first = join(_sources(voiced), output=tmp_path / "first.mp4", scratch=tmp_path / "tmp",
                 options=CutOptions(loudnorm=False))  # fmt: skip
    assert first.mix is not None
    known = [replace(s, floor=f, floor_known=True)
             for s, f in zip(_sources(voiced), first.mix.floors, strict=True)]  # fmt: skip

    again = join(known, output=tmp_path / "again.mp4", scratch=tmp_path / "tmp",
                 options=CutOptions(loudnorm=False))  # fmt: skip

    assert again.mix is not None and again.mix.as_dict() == first.mix.as_dict()
    ours, _ = mediatools.levels_db(again.output)
    theirs, _ = mediatools.levels_db(first.output)
    assert np.abs(ours - theirs).max() < 0.01


@pytest.mark.skipif(
    __import__("shutil").which("espeak-ng") is None,
    reason="espeak-ng is not on PATH: the animatic speaks in tones, which are not judged",
)
def test_the_take_checks_keep_where_speech_is_for_the_mix(
    write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    import json

    board = write_storyboard(2)

    assert cli("generate", board, "--backend", "animatic", "--checks").exit_code == 0

    state = json.loads(Path("out/board/state.json").read_text())
    kept = json.loads(Path("out/board/checks.json").read_text())["speech"]
    for scene in state["scenes"].values():
        segments = kept[scene["sha256"]]
        assert segments and all(0 <= a < b <= 5.1 for a, b in segments)  # the line, spoken


def test_a_bed_plays_until_a_scene_says_off_and_another_takes_over_where_it_is_named(
    sounds: Path, write_storyboard: Callable[..., Path]
) -> None:
    from types import SimpleNamespace

    from f1gen import storyboard as storyboards
    from f1gen.stitch.publish import layers_of

    scenes = [{"id": f"s{n}", "image": "images/p0.png", "action": "Waves."} for n in range(1, 5)]
    scenes[1]["ambience"] = False  # what YAML reads `ambience: off` as
    scenes[2]["ambience"] = {"file": "tune.wav", "volume": -26, "duck": 9}
    scenes[3]["music"] = "off"
    board = write_storyboard(scenes, extra={"ambience": "tune.wav", "music": {"file": "tune.wav"}})
    loaded = storyboards.load(board).storyboard
    clips = [SimpleNamespace(start=5.0 * n, duration=5.0) for n in range(4)]

    music, first, second = layers_of(loaded, clips, CutOptions())  # type: ignore[arg-type]
    quiet = layers_of(loaded, clips, CutOptions(music=False, ambience=False))  # type: ignore[arg-type]

    assert (music.off, music.volume, music.duck) == (((15.0, 20.0),), -18.0, 12.0)
    assert (first.begin, first.end, first.volume, first.duck) == (0.0, 5.0, -20.0, 6.0)
    assert (second.begin, second.end, second.volume, second.duck) == (10.0, None, -26.0, 9.0)
    assert quiet == []


def test_a_first_scene_that_says_ambience_off_has_no_bed_at_all(
    sounds: Path, write_storyboard: Callable[..., Path]
) -> None:
    from types import SimpleNamespace

    from f1gen import storyboard as storyboards
    from f1gen.stitch.publish import layers_of

    scenes = [{"id": f"s{n}", "image": "images/p0.png", "action": "Waves."} for n in range(1, 3)]
    scenes[0]["ambience"] = False  # a bed that ends where it begins: it faded out over 1 s
    board = write_storyboard(scenes, extra={"ambience": "tune.wav"})
    loaded = storyboards.load(board).storyboard
    clips = [SimpleNamespace(start=5.0 * n, duration=5.0) for n in range(2)]

    assert layers_of(loaded, clips, CutOptions()) == []  # type: ignore[arg-type]
