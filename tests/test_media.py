"""The media door: ffmpeg fed while it runs, sound decoded a clip at a time, cheap key frames."""

from __future__ import annotations

import array
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np
import pytest

from f1gen import media
from f1gen.errors import MediaError
from tests.support.mediatools import MarkerClip
from tests.support.takes import make_take, speech_fixture


def _silence(seconds: float) -> Callable[[IO[bytes]], None]:
    def feed(sink: IO[bytes]) -> None:
        sink.write(bytes(round(seconds * 48_000) * 8))

    return feed


RAW = ["-f", "f32le", "-ar", "48000", "-ac", "2", "-i", "pipe:0"]


def test_ffmpeg_reads_what_the_feed_writes(tmp_path: Path) -> None:
    out = tmp_path / "sound.wav"

    media.run_ffmpeg([*RAW, str(out)], what="test", feed=_silence(2.0))

    assert media.probe(out).audio.duration == pytest.approx(2.0, abs=0.001)  # type: ignore[union-attr]


def test_a_failing_fed_ffmpeg_says_why_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match=r"^test: ffmpeg.* failed: .*No such file or directory$"):
        media.run_ffmpeg([*RAW, str(tmp_path / "missing" / "x.wav")], what="test",
                         feed=_silence(30.0))  # fmt: skip


def test_a_failing_feed_stops_ffmpeg_and_surfaces(tmp_path: Path) -> None:
    def feed(sink: IO[bytes]) -> None:
        sink.write(bytes(48_000 * 8))
        raise MediaError("clip.mp4: cannot read its sound (broken)")

    with pytest.raises(MediaError, match=r"^clip.mp4: cannot read its sound \(broken\)$"):
        media.run_ffmpeg([*RAW, str(tmp_path / "x.wav")], what="test", feed=feed)


def test_ctrl_c_while_ffmpeg_finishes_after_its_feed_stops_ffmpeg_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started: list[subprocess.Popen[bytes]] = []
    popen = subprocess.Popen

    def recorded(*args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
        started.append(popen(*args, **kwargs))
        return started[-1]

    def ctrl_c(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(subprocess, "Popen", recorded)
    previous = signal.signal(signal.SIGALRM, ctrl_c)
    signal.setitimer(signal.ITIMER_REAL, 0.5)  # Ctrl-C, once the feed is done
    try:
        with pytest.raises(KeyboardInterrupt):
            # 60 s of work at the pace of a clock, none of it from the feed, which ends at once
            media.run_ffmpeg(["-f", "lavfi", "-i", "anullsrc=r=8000", "-t", "60", "-af", "arealtime",
                              "-f", "null", "-"], what="test", feed=lambda sink: None)  # fmt: skip
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        fed = started[-1]  # after the one that finds ffmpeg
        running = fed.poll() is None
        fed.kill()
        fed.wait()

    assert not running  # stopped with f1gen, not left to run on its own


def _samples(chunks: list[bytes]) -> array.array[float]:
    samples = array.array("f")
    samples.frombytes(b"".join(chunks))
    return samples


def test_sound_comes_through_the_chain_exactly_as_long_as_asked(
    marker_clips: list[MarkerClip],
) -> None:
    chain = "aresample=48000,aformat=sample_fmts=flt:channel_layouts=stereo,apad,atrim=end_sample=300000"

    samples = _samples(list(media.audio_pcm(marker_clips[0].path, chain)))

    assert len(samples) == 2 * 300_000  # 6.25 s: the clip's 4.99 s of sound, padded
    loud = np.flatnonzero(np.abs(np.asarray(samples[::2])) > 0.3)
    assert loud[0] / 48_000 == pytest.approx(marker_clips[0].marker, abs=0.005)  # the beep


def test_sound_of_a_file_that_is_not_media_is_a_media_error(tmp_path: Path) -> None:
    bogus = tmp_path / "clip.mp4"
    bogus.write_bytes(b"not a video")

    with pytest.raises(MediaError, match=r"^clip.mp4: cannot read its sound \("):
        list(media.audio_pcm(bogus, "anull"))


def _white(image: object) -> float:
    return float((np.asarray(image.convert("L")) > 200).mean())  # type: ignore[attr-defined]


def test_a_clip_with_one_keyframe_gives_its_first_frame(marker_clips: list[MarkerClip]) -> None:
    clip = marker_clips[0]  # one keyframe (the first frame), a white flash at its marker

    whole = media.frame_at(clip.path, (0.0, 121 / 24))
    small = media.frame_at(clip.path, (0.0, 121 / 24), fit=(144, 224))

    assert whole.size == (576, 896) and _white(whole) == 0.0
    assert small.size == (144, 224)


def test_a_part_after_the_keyframe_gives_the_parts_first_frame(
    marker_clips: list[MarkerClip],
) -> None:
    clip = marker_clips[0]

    frame = media.frame_at(clip.path, (clip.marker, clip.marker + 2.0))

    assert _white(frame) > 0.9  # the flash is the part's first frame


def test_one_decode_gives_the_track_as_it_is_and_at_the_rate_the_models_hear(
    tmp_path: Path,
) -> None:
    ovi = make_take(tmp_path / "ovi.mp4", sound="anullsrc")  # AAC 16 kHz mono, as Ovi makes
    found = media.read_sounds(ovi, rate=16_000, mono=True)
    assert found is not None
    native, heard = found
    assert heard is native and native.rate == 16_000  # already what the models hear
    found = media.read_sounds(speech_fixture("line"), rate=16_000, mono=True)
    assert found is not None
    native, heard = found
    assert (native.rate, heard.rate, heard.samples.shape[0]) == (48_000, 16_000, 1)
    assert abs(native.seconds - heard.seconds) < 0.01


def test_the_picture_can_be_read_at_a_lower_rate(tmp_path: Path) -> None:
    clip = make_take(tmp_path / "p.mp4", sound=None)
    picture = media.read_picture(clip, size=(36, 56), every=2)
    assert picture is not None
    assert (len(picture.frames), picture.fps) == (61, 12.0)
