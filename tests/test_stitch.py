"""The stitch keeps lip sync: every marker's white frame and beep coincide within one frame."""

from __future__ import annotations

import math
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from f1gen.errors import WriteError
from f1gen.stitch.cut import (
    TOLERANCE,
    CutOptions,
    Source,
    find_gain,
    gain_for,
    gated_loudness,
    join,
)
from f1gen.stitch.ffargs import Loudness
from tests.support import mediatools
from tests.support.mediatools import FRAME, MarkerClip


def _expected_markers(clips: list[MarkerClip]) -> list[float]:
    """Where each marker belongs: the clip's start (sum of earlier real durations) plus its offset."""
    start, expected = 0.0, []
    for clip in clips:
        expected.append(start + clip.marker)
        start += mediatools.FRAMES / mediatools.FPS
    return expected


def test_stitched_cut_holds_sync_at_every_boundary(
    marker_clips: list[MarkerClip], tmp_path: Path
) -> None:
    result = join([Source(c.path.stem, c.path) for c in marker_clips], output=tmp_path / "cut.mp4",
                  scratch=tmp_path / "tmp")  # fmt: skip

    assert result.video_copied
    worst, frames, _ = mediatools.worst_offset(result.output)
    assert len(frames) == len(marker_clips) == 24
    assert worst <= FRAME, f"worst A/V offset {worst * 1000:.1f} ms"
    for found, expected in zip(frames, _expected_markers(marker_clips), strict=True):
        assert abs(found - expected) <= FRAME / 2
    starts = mediatools.stream_starts(result.output)
    assert starts["video"] == pytest.approx(0, abs=0.001)
    assert starts["audio"] == pytest.approx(0, abs=0.001)


def test_naive_concat_copy_drifts_which_is_why_the_stitch_rebuilds_audio(
    marker_clips: list[MarkerClip], tmp_path: Path, ffmpeg: str
) -> None:
    listing = tmp_path / "list.txt"
    listing.write_text("".join(f"file '{c.path}'\n" for c in marker_clips))
    naive = tmp_path / "naive.mp4"
    subprocess.run([ffmpeg, "-v", "error", "-f", "concat", "-safe", "0", "-i", listing, "-c", "copy",
                    naive], check=True)  # fmt: skip

    worst, _, _ = mediatools.worst_offset(naive)

    assert worst > 4 * FRAME  # hundreds of ms by the last clip: the measurement tells them apart


def test_cut_output_is_a_publishable_mp4(marker_clips: list[MarkerClip], tmp_path: Path) -> None:
    result = join([Source(c.path.stem, c.path) for c in marker_clips[:3]], output=tmp_path / "cut.mp4",
                  scratch=tmp_path / "tmp")  # fmt: skip

    import av

    with av.open(str(result.output)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert (video.codec_context.name, video.codec_context.pix_fmt) == ("h264", "yuv420p")
        assert (audio.codec_context.name, audio.codec_context.sample_rate) == ("aac", 48_000)
        assert audio.codec_context.channels == 2
    head = result.output.read_bytes()[:4096]
    assert head.find(b"moov") < head.find(b"mdat") or b"mdat" not in head  # +faststart
    assert result.duration == pytest.approx(3 * 121 / 24, abs=0.001)
    assert not list((tmp_path / "tmp").iterdir())  # no scratch files left behind


def test_mixed_clips_are_normalized_and_stay_in_sync(
    marker_clips: list[MarkerClip], tmp_path: Path
) -> None:
    odd = [
        mediatools.make_marker_clip(tmp_path / "landscape.mp4", marker_frame=30, size=(640, 360),
                                    fps=30, frames=150, audio_rate=44_100, channels=2,
                                    flash_frames=3),
        mediatools.make_marker_clip(tmp_path / "silent.mp4", marker_frame=12, audio_rate=None),
    ]  # fmt: skip
    sources = [
        Source("a", marker_clips[0].path),
        Source("landscape", odd[0].path, footage=True),
        Source("b", marker_clips[1].path),
        Source("silent", odd[1].path, footage=True),
        Source("c", marker_clips[2].path),
    ]

    result = join(sources, output=tmp_path / "cut.mp4", scratch=tmp_path / "tmp")

    assert not result.video_copied
    frames = mediatools.white_frame_times(result.output)
    beeps = mediatools.beep_times(result.output)
    assert len(frames) == 5 and len(beeps) == 4  # the silent footage has a flash, no beep
    expected = [
        c.start + m
        for c, m in zip(
            result.clips,
            (marker_clips[0].marker, 1.0, marker_clips[1].marker, 0.5, marker_clips[2].marker),
            strict=True,
        )
    ]
    for found, want in zip(frames, expected, strict=True):
        assert abs(found - want) <= FRAME
    for beep, frame in zip(beeps, [frames[0], frames[1], frames[2], frames[4]], strict=True):
        assert abs(beep - frame) <= FRAME
    import av

    with av.open(str(result.output)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (576, 896)
        assert stream.average_rate == 24


def test_trimmed_footage_uses_only_its_range(
    marker_clips: list[MarkerClip], tmp_path: Path
) -> None:
    long = mediatools.make_marker_clip(tmp_path / "long.mp4", marker_frame=72, frames=240,
                                       audio_rate=48_000)  # fmt: skip
    sources = [
        Source("long", long.path, trim=(2.0, 6.0), footage=True),
        Source("a", marker_clips[0].path),
    ]

    result = join(sources, output=tmp_path / "cut.mp4", scratch=tmp_path / "tmp")

    assert result.clips[0].duration == pytest.approx(4.0)
    worst, frames, _ = mediatools.worst_offset(result.output)
    assert frames[0] == pytest.approx(1.0, abs=FRAME)  # marker at 3.0 s, trimmed from 2.0 s
    assert worst <= FRAME


def test_a_picture_that_starts_after_its_sound_keeps_its_sync(
    marker_clips: list[MarkerClip], tmp_path: Path
) -> None:
    late = mediatools.rewrite(marker_clips[1], tmp_path / "late.mp4", drop_frames=3)
    clips = [marker_clips[0], late, marker_clips[2]]

    result = join([Source(c.path.stem, c.path) for c in clips], output=tmp_path / "cut.mp4",
                  scratch=tmp_path / "tmp")  # fmt: skip

    assert result.video_copied
    worst, frames, _ = mediatools.worst_offset(result.output)
    assert len(frames) == 3 and worst <= FRAME, f"worst A/V offset {worst * 1000:.1f} ms"
    # the late picture's slot starts at its first frame, 3 frames into the clip's own time
    assert frames[1] == pytest.approx(
        result.clips[1].start + late.marker - 3 * FRAME, abs=FRAME / 2
    )


def test_a_take_whose_sound_is_its_first_stream_is_copied_in_sync(
    marker_clips: list[MarkerClip], tmp_path: Path
) -> None:
    swapped = mediatools.rewrite(marker_clips[1], tmp_path / "swapped.mp4", audio_first=True)
    clips = [marker_clips[0], swapped, marker_clips[2]]

    result = join([Source(c.path.stem, c.path) for c in clips], output=tmp_path / "cut.mp4",
                  scratch=tmp_path / "tmp")  # fmt: skip

    assert result.video_copied
    worst, frames, _ = mediatools.worst_offset(result.output)
    assert len(frames) == 3 and worst <= FRAME
    assert not list((tmp_path / "tmp").iterdir())  # its picture's own copy is gone too


def _limited(measured: float, *, ceiling_at: float, kept: float) -> Callable[[float], float]:
    """The loudness of a sound measured at `measured` LUFS after a gain, when the limiter keeps
    `kept` of every dB of gain past ceiling_at."""
    return lambda gain: measured + min(gain, ceiling_at) + kept * max(0.0, gain - ceiling_at)


def _pinned(free: float, held: float) -> Callable[[float], float]:
    """A sound of which `held` (energy) sits at the ceiling whatever the gain, and `free` grows
    with it: a loud beep over a quiet bed."""
    return lambda gain: 10 * math.log10(free * 10 ** (gain / 10) + held)


@pytest.mark.parametrize(
    ("loudness", "probes"),
    [
        (_limited(-20.0, ceiling_at=9.0, kept=0.0), 1),  # the limiter hardly touches it
        (_pinned(free=0.0004, held=0.0078), 2),  # the bench's beeps: solved by the model
        (_limited(-20.0, ceiling_at=2.0, kept=0.8), 2),
        (_limited(-20.0, ceiling_at=2.0, kept=0.5), 2),
    ],
)
def test_the_gain_under_a_limiter_is_raised_to_meet_the_target_in_two_measures_at_most(
    loudness: Callable[[float], float], probes: int
) -> None:
    probed: list[float] = []

    def loudness_at(gain: float) -> float:
        probed.append(gain)
        return loudness(gain)

    gain = find_gain(-14.0, -14.0 - loudness(0.0), loudness_at)

    assert len(probed) == probes and probed == sorted(probed)  # each step up, none back
    assert abs(loudness(gain) - -14.0) <= TOLERANCE


def _full(path: Path) -> Path:
    """path made to lead to /dev/full: whatever is written there finds the disk full."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to("/dev/full")
    return path


def test_a_disk_too_full_for_the_raw_sound_names_the_folder_and_the_way_out(
    marker_clips: list[MarkerClip], tmp_path: Path
) -> None:
    scratch = tmp_path / "tmp"
    _full(scratch / f".partial-sound-{os.getpid()}.f32")
    sources = [Source(c.path.stem, c.path) for c in marker_clips[:3]]

    with pytest.raises(WriteError) as raised:
        join(sources, output=tmp_path / "cut.mp4", scratch=scratch)

    assert raised.value.message == (
        f"{scratch}: cannot keep the cut's raw sound (No space left on device): it takes about "
        "6 MB there: free disk space or fix its permissions, or stitch with --no-loudnorm"
    )
    assert not (tmp_path / "cut.mp4").exists() and not list(scratch.iterdir())


@pytest.mark.parametrize("loudnorm", [True, False])
def test_a_disk_too_full_for_the_cut_names_its_folder_and_keeps_the_cut_before(
    marker_clips: list[MarkerClip], tmp_path: Path, loudnorm: bool
) -> None:
    before = tmp_path / "cut.mp4"
    before.write_bytes(b"the cut made yesterday")
    _full(tmp_path / f".partial-{os.getpid()}-cut.mp4")
    sources = [Source(c.path.stem, c.path) for c in marker_clips[:2]]

    with pytest.raises(WriteError) as raised:
        join(
            sources, output=before, scratch=tmp_path / "tmp", options=CutOptions(loudnorm=loudnorm)
        )

    assert raised.value.message == (
        f"{tmp_path}: cannot write the cut (No space left on device): free disk space there "
        "or fix its permissions; what was there before is intact"
    )
    assert before.read_bytes() == b"the cut made yesterday"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.mp4", "tmp"]


def test_what_a_killed_stitch_left_is_cleared_by_the_next_one(
    marker_clips: list[MarkerClip], tmp_path: Path
) -> None:
    dead = subprocess.Popen(["true"])  # a process that has ended: its pid is free
    dead.wait()
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    left = [scratch / f".partial-sound-{dead.pid}.f32", scratch / f".partial-concat-{dead.pid}.txt",
            scratch / f".partial-picture-{dead.pid}-003.mp4", tmp_path / f".partial-{dead.pid}-cut.mp4"]  # fmt: skip
    working = [  # another stitch still at work, and what is not the stitch's
        scratch / f".partial-sound-{os.getppid()}.f32",
        tmp_path / f".partial-{os.getppid()}-cut.mp4",
        scratch / f".partial-bucket-state-{dead.pid}.json",
        tmp_path / f".partial-{dead.pid}-other.mp4",
    ]
    for path in (*left, *working):
        path.write_bytes(b"half made")

    join([Source(c.path.stem, c.path) for c in marker_clips[:2]], output=tmp_path / "cut.mp4",
         scratch=scratch)  # fmt: skip

    assert [p for p in left if p.exists()] == []
    assert [p for p in working if not p.exists()] == []


def test_the_loudness_of_blocks_after_a_gain_follows_the_gates() -> None:
    # 400 ms blocks: a loud third, a softer third, a third of near-silence
    blocks = [-10.0] * 30 + [-24.0] * 30 + [-58.0] * 60

    assert gated_loudness(blocks, 0.0) == pytest.approx(-12.84, abs=0.01)
    assert gated_loudness(blocks, -11.0) == pytest.approx(-23.84, abs=0.01)  # a gain, no more
    # 12 dB down, the near-silence sinks under -70: the relative gate rises past the softer
    # third, and the loudness is 2.8 LU over what the gain alone would make it
    assert gated_loudness(blocks, -12.0) == pytest.approx(-22.0, abs=0.01)
    assert gated_loudness([-80.0] * 10, 0.0) == -math.inf


def test_the_gain_to_a_target_makes_up_for_what_the_gates_do() -> None:
    blocks = [-10.0] * 30 + [-24.0] * 30 + [-58.0] * 60
    measured = Loudness(input_i=-12.8, input_tp=-2.0, input_lra=10.0, input_thresh=-22.8)

    gain = gain_for(-30.0, measured, blocks)  # the gain alone (-17.2 dB) would make it -27.2

    assert gain == pytest.approx(-20.0, abs=0.1)
    assert gated_loudness(blocks, gain) - gated_loudness(blocks, 0.0) - 12.8 == pytest.approx(
        -30.0, abs=0.1
    )
    assert gain_for(-20.0, measured, blocks) == pytest.approx(-7.2, abs=0.01)  # gates unmoved
