"""A cut ready to publish: loudness, captions, clean joins, crossfades, footage, review art."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from PIL import Image

from f1gen.stitch.cut import CutOptions, Source, StitchResult, cues, join
from tests.support import mediatools
from tests.support.mediatools import FRAME, MarkerClip, ebur128
from tests.support.takes import make_take


def _sources(clips: list[MarkerClip], captions: bool = True) -> list[Source]:
    return [
        Source(f"c{i}", c.path, caption=f"Caption number {i}" if captions else None)
        for i, c in enumerate(clips)
    ]


@pytest.fixture(scope="module")
def busy_clips(tmp_path_factory: pytest.TempPathFactory) -> list[MarkerClip]:
    """Marker clips with picture and a steady sound bed, like speech over ambience."""
    return mediatools.make_marker_clips(
        tmp_path_factory.mktemp("busy"), count=4, busy=True, bed=0.3
    )


@pytest.mark.parametrize("target", [-14.0, -16.0])
def test_loudness_meets_the_target_and_the_peak_ceiling(
    busy_clips: list[MarkerClip], tmp_path: Path, ffmpeg: str, target: float
) -> None:
    result = join(_sources(busy_clips), output=tmp_path / "cut.mp4", scratch=tmp_path / "tmp",
                  options=CutOptions(loudness=target))  # fmt: skip

    integrated, peak = ebur128(ffmpeg, result.output)

    assert abs(integrated - target) <= 1.0
    assert peak <= -1.0
    assert result.loudness is not None and result.video_copied  # loudness did not cost the copy


@pytest.fixture(scope="module")
def peaky_clips(tmp_path_factory: pytest.TempPathFactory) -> list[MarkerClip]:
    """Marker clips whose loudness is mostly a loud beep over a faint bed: one gain to the
    target would take the beeps 10 dB over the peak ceiling."""
    return mediatools.make_marker_clips(tmp_path_factory.mktemp("peaky"), count=4, busy=True)


@pytest.mark.parametrize("target", [-14.0, -16.0])
def test_a_cut_whose_loudness_sits_in_its_peaks_still_meets_the_target_under_the_ceiling(
    peaky_clips: list[MarkerClip], tmp_path: Path, ffmpeg: str, target: float
) -> None:
    result = join(_sources(peaky_clips), output=tmp_path / "cut.mp4", scratch=tmp_path / "tmp",
                  options=CutOptions(loudness=target))  # fmt: skip

    integrated, peak = ebur128(ffmpeg, result.output)

    measured, leveling, made = result.loudness, result.leveling, result.made_loudness
    assert measured is not None and leveling is not None and made is not None
    assert leveling.ceiling == -1.5 and leveling.gain > target - measured.input_i  # limited
    assert abs(integrated - target) <= 1.0 and peak <= -1.0
    assert abs(made.input_i - integrated) <= 0.5  # what the result says is what the cut is
    assert mediatools.worst_offset(result.output)[0] <= 0.5 / 24  # the limiter's delay is undone


def test_a_quiet_target_is_met_when_the_gates_move_with_the_gain(
    tmp_path: Path, ffmpeg: str
) -> None:
    # A loud second, a softer one, then near-silence (-48 dBFS): 40 LUFS down, the near-silence
    # sinks under the absolute gate, and one gain alone would land 2-3 LU too loud.
    sound = ("aevalsrc=exprs='if(lt(t,1.2),0.5,if(lt(t,2.4),0.1,0.004))*sin(2*PI*440*t)'"
             ":s=16000:d=5.0417")  # fmt: skip
    takes = [make_take(tmp_path / f"t{n}.mp4", sound=sound) for n in range(3)]

    # The plain join: seams would fade each loud start in from the quiet end before it.
    result = join([Source(f"t{n}", t) for n, t in enumerate(takes)], output=tmp_path / "cut.mp4",
                  scratch=tmp_path / "tmp", options=CutOptions(loudness=-40.0, seams=False))  # fmt: skip

    integrated, _ = ebur128(ffmpeg, result.output)
    assert result.loudness is not None and result.leveling is not None
    assert abs(integrated - -40.0) <= 0.5
    assert abs(result.leveling.gain - (-40.0 - result.loudness.input_i)) > 1.0  # not one gain


def test_no_loudnorm_leaves_the_level_alone(
    busy_clips: list[MarkerClip], tmp_path: Path, ffmpeg: str
) -> None:
    result = join(_sources(busy_clips), output=tmp_path / "cut.mp4", scratch=tmp_path / "tmp",
                  options=CutOptions(loudnorm=False))  # fmt: skip

    integrated, _ = ebur128(ffmpeg, result.output)

    assert result.loudness is None and integrated < -16


def _srt_times(path: Path) -> list[tuple[float, float]]:
    def seconds(stamp: str) -> float:
        h, m, rest = stamp.split(":")
        s, ms = rest.split(",")
        return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000

    return [(seconds(a), seconds(b)) for a, b in re.findall(r"(\S+) --> (\S+)", path.read_text())]


def test_caption_files_are_timed_to_each_clip_slot(
    marker_clips: list[MarkerClip],
    tmp_path: Path,
    write_storyboard: Callable[..., Path],
    cli: Callable[..., Any],
) -> None:
    board = write_storyboard(3)
    cli("generate", board, "--backend", "animatic")

    result = cli("stitch", "--json")

    cut = json.loads(result.stdout)
    times = _srt_times(Path("out/board/final.srt"))
    assert len(times) == 3
    for (start, end), clip in zip(times, cut["clips"], strict=True):
        assert (
            abs(start - clip["start"]) <= FRAME
            and abs(end - (clip["start"] + clip["duration"])) <= FRAME
        )
    vtt = Path("out/board/final.vtt").read_text()
    assert vtt.startswith("WEBVTT\n\n00:00:00.000 --> 00:00:05.042\nLine number 1.\n")


def test_a_burned_caption_is_visible_in_the_safe_area(
    marker_clips: list[MarkerClip], tmp_path: Path
) -> None:
    burned = join(_sources(marker_clips[:2]), output=tmp_path / "burned.mp4", scratch=tmp_path / "tmp",
                  options=CutOptions(burn_captions=True))  # fmt: skip
    plain = join(
        _sources(marker_clips[:2]), output=tmp_path / "plain.mp4", scratch=tmp_path / "tmp"
    )

    def caption_pixels(path: Path) -> tuple[int, int]:
        frame = Image.fromarray(np.asarray(mediatools_frame(path, 0.5)))
        luma = np.asarray(frame.convert("L"))
        band = luma[int(896 * 0.55) : int(896 * 0.80)]  # above the platforms' bottom fifth
        bottom = luma[int(896 * 0.82) :]
        return int((band > 200).sum()), int((bottom > 200).sum())

    in_band, below = caption_pixels(burned.output)
    assert in_band > 2000 and below == 0
    assert caption_pixels(plain.output) == (0, 0)
    assert not burned.video_copied and plain.video_copied  # burn-in is the one reason to encode


def mediatools_frame(path: Path, second: float) -> Any:
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            if frame.time >= second:
                return frame.to_ndarray(format="rgb24")
    raise AssertionError("no frame")


def test_sync_holds_with_fades_and_with_crossfades(
    marker_clips: list[MarkerClip], tmp_path: Path
) -> None:
    for options in (CutOptions(fade_ms=30), CutOptions(crossfade=0.5)):
        result = join(_sources(marker_clips[:6], captions=False), output=tmp_path / "cut.mp4",
                      scratch=tmp_path / "tmp", options=options)  # fmt: skip

        worst, frames, beeps = mediatools.worst_offset(result.output)
        assert len(frames) == len(beeps) == 6 and worst <= FRAME, (options, frames, beeps)
        for frame, clip, marker in zip(frames, result.clips, marker_clips, strict=False):
            assert abs(frame - (clip.start + marker.marker)) <= FRAME
    assert result.duration == pytest.approx(6 * 121 / 24 - 5 * 0.5, abs=0.001)


def test_crossfaded_captions_meet_halfway_through_each_transition(
    marker_clips: list[MarkerClip], tmp_path: Path
) -> None:
    result = join(_sources(marker_clips[:3]), output=tmp_path / "cut.mp4", scratch=tmp_path / "tmp",
                  options=CutOptions(crossfade=0.4, loudnorm=False))  # fmt: skip
    found = cues(list(result.clips), CutOptions(crossfade=0.4))

    assert (
        found[0].end == pytest.approx(found[1].start) == pytest.approx(result.clips[1].start + 0.2)
    )


def _side_files(result: StitchResult) -> dict[str, Path]:
    return {p.name: p for p in result.side_files}


def test_the_cut_comes_with_a_contact_sheet_poster_and_manifest(
    write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    board = write_storyboard(7)
    cli("generate", board, "--backend", "animatic")

    result = cli("stitch", "--json")

    assert result.exit_code == 0, result.stderr
    with Image.open("out/board/contact-sheet.png") as sheet:
        assert sheet.size == (6 * 144, 2 * (224 + 28))  # 7 scenes: 6 columns, 2 rows
    with Image.open("out/board/poster.jpg") as poster:
        assert poster.size == (576, 896)
    manifest = json.loads(Path("out/board/manifest.json").read_text())
    state = json.loads(Path("out/board/state.json").read_text())
    assert manifest["title"] == "Test board" and manifest["tool"].startswith("f1gen ")
    assert [s["id"] for s in manifest["scenes"]] == [f"s{n}" for n in range(1, 8)]
    first = manifest["scenes"][0]
    assert first["fingerprint"] == state["scenes"]["s1"]["fingerprint"]
    assert first["sha256"] == state["scenes"]["s1"]["sha256"]
    assert first["prompt"] == "Driver 1 waves. <S>Line number 1.<E>."
    import hashlib

    assert (
        manifest["output"]["sha256"]
        == hashlib.sha256(Path("out/board/final.mp4").read_bytes()).hexdigest()
    )


def test_preview_is_small_and_fast_and_leaves_the_final_side_files_alone(
    write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    board = write_storyboard(2)
    cli("generate", board, "--backend", "animatic")

    result = cli("stitch", "--preview")

    assert result.exit_code == 0, result.stderr
    with av.open("out/board/final-preview.mp4") as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (288, 448)
    assert Path("out/board/final-preview.srt").is_file()
    assert not Path("out/board/manifest.json").exists()


def test_footage_with_crossfades_and_captions_keeps_sync(
    marker_clips: list[MarkerClip], tmp_path: Path
) -> None:
    footage = mediatools.make_marker_clip(tmp_path / "phone.mp4", marker_frame=45, size=(1280, 720), fps=30,
                                          frames=300, audio_rate=44_100, channels=2, flash_frames=3)  # fmt: skip
    sources = [
        Source("a", marker_clips[0].path, caption="First"),
        Source("phone", footage.path, trim=(1.0, 6.0), footage=True, caption=None),
        Source("b", marker_clips[1].path, caption="Third"),
    ]

    result = join(sources, output=tmp_path / "cut.mp4", scratch=tmp_path / "tmp",
                  options=CutOptions(crossfade=0.3, burn_captions=True))  # fmt: skip

    worst, frames, beeps = mediatools.worst_offset(result.output)
    assert len(frames) == 3 and worst <= FRAME, (frames, beeps)
    assert (
        abs(frames[1] - (result.clips[1].start + 0.5)) <= FRAME
    )  # 1.5 s into the footage, trimmed from 1.0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--captions", "subtitles"],
            "error: --captions 'subtitles': use 'files', 'burn' or 'words'\n",
        )
    ],
)
def test_bad_stitch_options_are_bad_input(
    args: list[str], message: str, write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    board = write_storyboard(1)

    result = cli("stitch", board, *args)

    assert (result.exit_code, result.stderr) == (2, message)


@pytest.mark.parametrize(
    ("target", "what"),
    [
        ("board.yaml", "the storyboard"),
        ("images/p1.png", "the image of scenes[1] (s1)"),
        ("out/board/state.json", "the run's state file"),
        ("CLIP", "a file in out/board/clips, where the accepted takes live"),
    ],
)
def test_stitch_never_writes_over_the_users_work(
    target: str, what: str, write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    board = write_storyboard(1)
    cli("generate", board, "--backend", "animatic")
    if target == "CLIP":
        target = str(next(Path("out/board/clips").glob("*.mp4")))
    before = Path(target).read_bytes()

    result = cli("stitch", board, "-o", target)

    assert (result.exit_code, result.stderr) == (
        2,
        f"error: -o {target}: it would replace {what}: write the cut elsewhere, "
        "e.g. -o out/board/cut.mp4\n",
    )
    assert Path(target).read_bytes() == before
    assert not Path("out/board/final.srt").exists()  # refused before anything was written


def test_a_side_file_that_would_replace_an_image_is_refused(
    write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    board = write_storyboard(1)
    cli("generate", board, "--backend", "animatic")
    Path("images/p1.png").rename("images/p.poster.jpg")
    board.write_text(board.read_text().replace("p1.png", "p.poster.jpg"))

    result = cli("stitch", board, "-o", "images/p.mp4")

    assert result.exit_code == 2
    assert result.stderr.startswith(
        "error: -o images/p.mp4: its side file images/p.poster.jpg would replace the image of "
    )


def test_a_cut_named_with_o_gets_side_files_named_after_it(
    write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    board = write_storyboard(1)
    cli("generate", board, "--backend", "animatic")
    Path("proj").mkdir()
    Path("proj/manifest.json").write_text('{"mine": true}')
    Path("proj/poster.jpg").write_bytes(b"my poster")

    result = cli("stitch", board, "-o", "proj/cut.mp4", "--json")

    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["side_files"] == [
        "proj/cut.srt",
        "proj/cut.vtt",
        "proj/cut.contact-sheet.png",
        "proj/cut.poster.jpg",
        "proj/cut.manifest.json",
    ]
    assert Path("proj/manifest.json").read_text() == '{"mine": true}'
    assert Path("proj/poster.jpg").read_bytes() == b"my poster"
    manifest = json.loads(Path("proj/cut.manifest.json").read_text())
    assert manifest["output"]["file"] == "cut.mp4"
    assert sorted(p.name for p in Path("proj").iterdir()) == [
        "cut.contact-sheet.png", "cut.manifest.json", "cut.mp4", "cut.poster.jpg", "cut.srt",
        "cut.vtt", "manifest.json", "poster.jpg",
    ]  # fmt: skip


def test_o_naming_a_folder_says_it_is_a_folder(
    write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    board = write_storyboard(1)
    Path("cuts").mkdir()

    result = cli("stitch", board, "-o", "cuts")

    assert (result.exit_code, result.stderr) == (
        2,
        "error: -o cuts: is a folder: name the cut's file, e.g. -o cuts/cut.mp4\n",
    )


def test_crossfades_of_part_of_a_frame_do_not_drift(
    marker_clips: list[MarkerClip], tmp_path: Path
) -> None:
    result = join(_sources(marker_clips[:8], captions=False), output=tmp_path / "cut.mp4",
                  scratch=tmp_path / "tmp", options=CutOptions(crossfade=0.3, loudnorm=False))  # fmt: skip

    worst, frames, beeps = mediatools.worst_offset(result.output)
    assert len(frames) == len(beeps) == 8 and worst <= FRAME, (frames, beeps)
    for frame, clip, marker in zip(frames, result.clips, marker_clips, strict=False):
        assert abs(frame - (clip.start + marker.marker)) <= FRAME / 2 + 0.001
    with av.open(str(result.output)) as container:
        assert container.streams.video[0].frames == round(result.duration * 24)
