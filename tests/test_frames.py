"""Delivery frames: a cut made for the platforms (9:16, 1080x1920), each clip fitted into it the
same way, captions where the platforms' buttons leave them readable, and captions word by word."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from f1gen.captions import to_srt
from f1gen.checks.sound import find_speech
from f1gen.checks.words import english_words, recognize, words_of
from f1gen.media import read_sound
from f1gen.stitch.cut import CutOptions, Source, cues, join
from f1gen.stitch.frames import PRESETS
from tests.support import mediatools
from tests.support.mediatools import FRAME, MarkerClip

SPEECH = Path(__file__).parent / "data" / "speech"
SHORTS = PRESETS["shorts"]


def _frame_at(path: Path, second: float) -> np.ndarray:
    """The decoded picture shown at second, as luma (0-255)."""
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            if frame.time is not None and frame.time >= second - 0.001:
                return np.asarray(frame.to_ndarray(format="gray"), dtype=np.float64)
    raise AssertionError(f"{path.name}: no frame at {second} s")


def _sharpness(luma: np.ndarray) -> float:
    """Variance of the Laplacian: high where there are edges, near zero where it is blurred."""
    lap = luma[1:-1, :-2] + luma[1:-1, 2:] + luma[:-2, 1:-1] + luma[2:, 1:-1] - 4 * luma[1:-1, 1:-1]
    return float(lap.var())


def _streams(path: Path) -> tuple[tuple[str, int, int, str], tuple[str, int]]:
    with av.open(str(path)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        return (
            (video.codec_context.name, video.codec_context.width, video.codec_context.height,
             str(video.codec_context.pix_fmt)),
            (audio.codec_context.name, audio.codec_context.sample_rate),
        )  # fmt: skip


@pytest.fixture(scope="module")
def busy(tmp_path_factory: pytest.TempPathFactory) -> list[MarkerClip]:
    """Ovi-shaped marker clips over a moving test pattern: sharp edges everywhere."""
    folder = tmp_path_factory.mktemp("busy")
    return [
        mediatools.make_marker_clip(folder / f"b{n}.mp4", marker_frame=30 + 11 * n, busy=True)
        for n in range(3)
    ]


def _shorts(**more: Any) -> CutOptions:
    return CutOptions(frame=SHORTS.size, safe=SHORTS.safe, loudnorm=False, **more)


def test_a_cut_for_shorts_is_1080x1920_in_sync_the_clip_centred_and_sharp_the_fill_blurred(
    busy: list[MarkerClip], tmp_path: Path
) -> None:
    sources = [Source(f"c{n}", c.path, caption="Box box, we are in the lead!") for n, c in
               enumerate(busy)]  # fmt: skip

    result = join(sources, output=tmp_path / "shorts.mp4", scratch=tmp_path / "tmp",
                  options=_shorts(burn_captions=True))  # fmt: skip
    plain = join(sources, output=tmp_path / "plain.mp4", scratch=tmp_path / "tmp",
                 options=_shorts())  # fmt: skip

    assert _streams(result.output) == (("h264", 1080, 1920, "yuv420p"), ("aac", 48_000))
    worst, frames, beeps = mediatools.worst_offset(result.output)
    assert len(frames) == len(beeps) == 3 and worst <= FRAME, (frames, beeps)
    # 576x896 fitted to the width: 1080x1680, centred, 120 rows of fill above and below
    luma = _frame_at(plain.output, 1.0)
    source = _frame_at(busy[0].path, 1.0)
    scaled = np.asarray(
        av.VideoFrame.from_ndarray(source.astype(np.uint8), format="gray")
        .reformat(width=1080, height=1680)
        .to_ndarray(),
        dtype=np.float64,
    )
    # the picture is the clip scaled, in place, as sharp as the clip scaled alone
    assert np.abs(luma[120:1800] - scaled).mean() < 3
    picture, fill = luma[300:1500, 100:980], np.vstack([luma[4:116], luma[1804:1916]])
    assert _sharpness(picture) > 0.5 * _sharpness(scaled[180:1380, 100:980])
    # the fill: blurred (nearly no edges left) and darkened, so the picture stands out
    assert _sharpness(fill) < 0.05 * _sharpness(picture)
    assert fill.mean() < 0.8 * luma[120:1800].mean()
    # the burned caption lands inside the safe zone and nowhere else
    left, top, right, bottom = SHORTS.safe.box(SHORTS.size)
    drawn = np.abs(_frame_at(result.output, 1.0) - luma) > 40
    rows, columns = np.flatnonzero(drawn.any(axis=1)), np.flatnonzero(drawn.any(axis=0))
    assert drawn.sum() > 5000
    assert top <= rows[0] and rows[-1] <= bottom and left <= columns[0] and columns[-1] <= right


@pytest.mark.parametrize("fill", ["crop", "pad"])
def test_crop_fills_the_frame_with_the_picture_and_pad_with_black_bars(
    fill: str, busy: list[MarkerClip], tmp_path: Path
) -> None:
    result = join([Source("c", busy[0].path)], output=tmp_path / "cut.mp4",
                  scratch=tmp_path / "tmp", options=_shorts(fill=fill))  # fmt: skip

    assert _streams(result.output)[0] == ("h264", 1080, 1920, "yuv420p")
    worst, frames, _ = mediatools.worst_offset(result.output)
    assert len(frames) == 1 and worst <= FRAME
    luma = _frame_at(result.output, 1.0)
    edge = np.vstack([luma[4:116], luma[1804:1916]])
    if fill == "pad":
        assert edge.max() <= 20  # black (16 in video range)
    else:  # 576x896 scaled to 1234x1920, its sides cut: the pattern reaches every edge
        assert _sharpness(edge) > 0.5 * _sharpness(luma[300:1500])


def test_clips_of_different_sizes_are_each_fitted_alike_and_stay_in_sync(
    busy: list[MarkerClip], tmp_path: Path
) -> None:
    tall = mediatools.make_marker_clip(tmp_path / "tall.mp4", marker_frame=40, size=(704, 1280),
                                       busy=True)  # fmt: skip
    wide = mediatools.make_marker_clip(tmp_path / "wide.mp4", marker_frame=50, size=(1280, 720),
                                       fps=30, frames=150, audio_rate=44_100, busy=True)  # fmt: skip
    sources = [Source("a", busy[0].path), Source("tall", tall.path), Source("b", busy[1].path),
               Source("phone", wide.path, footage=True)]  # fmt: skip

    result = join(sources, output=tmp_path / "cut.mp4", scratch=tmp_path / "tmp",
                  options=_shorts(fill="pad"))  # fmt: skip

    assert _streams(result.output)[0] == ("h264", 1080, 1920, "yuv420p")
    frames = mediatools.white_frame_times(result.output)
    # the footage's beep (44.1 kHz) comes out louder than the takes' (16 kHz AAC): a lower share
    # of the loudest finds them all
    beeps = mediatools.beep_times(result.output, threshold=0.15)
    assert len(frames) == len(beeps) == 4, (frames, beeps)
    assert max(abs(f - b) for f, b in zip(frames, beeps, strict=True)) <= FRAME
    markers = [busy[0].marker, tall.marker, busy[1].marker, wide.marker]
    for found, clip, marker in zip(frames, result.clips, markers, strict=True):
        assert abs(found - (clip.start + marker)) <= FRAME
    # each fitted to the width and centred: bars of (1920 - 1080 * h / w) / 2 rows above
    for clip, bar in zip(result.clips, (120, 0, 120, 656), strict=True):
        luma = _frame_at(result.output, clip.start + 0.2)
        lit = np.flatnonzero(luma.mean(axis=1) > 24)
        assert abs(lit[0] - bar) <= 4 and abs((1919 - lit[-1]) - bar) <= 4, (clip.source.name, lit)


def _speech_clip(sound: Path, path: Path, ffmpeg: str) -> Path:
    """An Ovi-shaped clip (a plain picture) carrying one of the speech fixtures."""
    subprocess.run([ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i",
                    "color=c=0x204060:s=576x896:r=24:d=5.0417", "-i", str(sound), "-frames:v", "121",
                    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
                    "-ar", "16000", "-ac", "1", str(path)], check=True)  # fmt: skip
    return path


def _aligned(sound: Path, line: str, prompt: str) -> list[float]:
    """Where the take checks' alignment puts each word of the line: the first heard match of
    each, in order (as word_checks matches them)."""
    from difflib import SequenceMatcher

    mono = read_sound(sound, rate=16_000, mono=True)
    assert mono is not None
    span = find_speech(mono.samples[0]).span
    assert span is not None
    known, _ = english_words(line)
    vocabulary = sorted({*known, *(w for w in words_of(prompt) if english_words(w)[0])})
    heard = recognize(mono.samples[0], vocabulary=vocabulary, span=span)
    line_words = words_of(line)
    matcher = SequenceMatcher(a=line_words, b=[h.word for h in heard], autojunk=False)
    found = {
        a + k: heard[b + k].start for a, b, n in matcher.get_matching_blocks() for k in range(n)
    }
    assert len(found) == len(line_words), "the fixture's line is heard whole"
    return [found[k] for k in range(len(line_words))]


def test_word_captions_show_each_word_within_150_ms_of_where_the_alignment_puts_it(
    marker_clips: list[MarkerClip], tmp_path: Path, ffmpeg: str
) -> None:
    scene = json.loads((SPEECH / "scene.json").read_text())
    line = scene["line"]
    take = _speech_clip(SPEECH / "line.ogg", tmp_path / "line.mp4", ffmpeg)
    options = CutOptions(word_captions=True, burn_captions=True, loudnorm=False)
    sources = [Source("a", marker_clips[0].path, caption="Lights out."),
               Source("line", take, caption=line)]  # fmt: skip

    result = join(sources, output=tmp_path / "cut.mp4", scratch=tmp_path / "tmp", options=options)

    said = [cue for cue in cues(list(result.clips), options) if cue.start >= result.clips[1].start]
    expected = [result.clips[1].start + at for at in _aligned(take, line, scene["prompt"])]
    assert [cue.text.split()[-1] for cue in said] == line.split()
    for cue, at in zip(said, expected, strict=True):
        assert abs(cue.start - at) <= 0.150, (cue, at)
    assert said[-1].end == pytest.approx(result.clips[1].start + result.clips[1].duration)
    assert "\nSimply lovely!\n" in to_srt(said)  # a sentence's end starts a new phrase
    # burned: the caption changes as each word comes (seen a frame before and after it)
    for cue in said[1:]:
        before = _frame_at(result.output, cue.start - 2 * FRAME)[400:720]
        after = _frame_at(result.output, cue.start + FRAME)[400:720]
        assert (np.abs(after - before) > 60).sum() > 200, cue


def test_a_line_not_heard_is_spread_over_the_speech_the_vad_found(
    tmp_path: Path, ffmpeg: str
) -> None:
    take = _speech_clip(SPEECH / "line.ogg", tmp_path / "line.mp4", ffmpeg)
    line = "¡Sí! ¡Simplemente precioso! ¡Otra victoria!"  # not English: nothing to recognize
    options = CutOptions(word_captions=True, loudnorm=False)

    result = join([Source("line", take, caption=line)], output=tmp_path / "cut.mp4",
                  scratch=tmp_path / "tmp", options=options)  # fmt: skip

    said = cues(list(result.clips), options)
    mono = read_sound(take, rate=16_000, mono=True)
    assert mono is not None
    span = find_speech(mono.samples[0]).span
    assert span is not None
    assert [cue.text.split()[-1] for cue in said] == line.split()
    assert said[0].start == pytest.approx(span[0], abs=0.01)
    starts = [cue.start for cue in said]
    assert starts == sorted(starts) and starts[-1] < span[1]


def test_burned_captions_are_not_drawn_over_the_animatics_own(
    write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    long = "Box box, box box: we are pitting this lap for the hard tyres, copy that?"
    board = write_storyboard([{"id": "s1", "image": "images/p1.png", "action": "Waves.",
                               "speech": long}])  # fmt: skip
    cli("generate", board, "--backend", "animatic")

    result = cli("stitch", "--captions", "burn", "--json")

    assert result.exit_code == 0, result.stderr
    made = json.loads(result.stdout)
    clip, cut = Path(made["clips"][0]["path"]), Path(made["output"])
    # one text: the animatic's own; the cut's picture is the clip's
    assert np.abs(_frame_at(cut, 1.0) - _frame_at(clip, 1.0)).mean() < 2
    assert long in Path("out/board/final.srt").read_text().replace("\n", " ")


def test_stitch_for_shorts_from_the_command_line(
    write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    board = write_storyboard(2)
    cli("generate", board, "--backend", "animatic")

    result = cli("stitch", "--for", "shorts", "--fill", "pad", "--json")

    assert result.exit_code == 0, result.stderr
    made = json.loads(result.stdout)
    cut = Path(made["output"])
    assert made["frame"] == "1080x1920" and "(10.1 s, 2 clips, 1080x1920, video encoded once" in (
        result.stderr
    )
    assert _streams(cut) == (("h264", 1080, 1920, "yuv420p"), ("aac", 48_000))
    assert _frame_at(cut, 1.0)[:100].max() <= 20  # pad: black bars above
    manifest = json.loads(Path("out/board/manifest.json").read_text())
    assert manifest["output"]["frame"] == "1080x1920"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--frame", "1081x1920"],
         "error: --frame '1081x1920': H.264 (yuv420p) needs even numbers: e.g. --frame 1082x1920\n"),
        (["--frame", "tall"],
         "error: --frame 'tall': write it WIDTHxHEIGHT, e.g. --frame 1080x1920\n"),
        (["--frame", "8x8"], "error: --frame '8x8': each side must be 16-4096 pixels\n"),
        (["--for", "youtube"], "error: --for 'youtube': use one of shorts, reels, tiktok\n"),
        (["--fill", "stretch"], "error: --fill 'stretch': use one of blur, crop, pad\n"),
        (["--captions", "karaoke"],
         "error: --captions 'karaoke': use 'files', 'burn' or 'words'\n"),
    ],
)  # fmt: skip
def test_bad_delivery_options_are_bad_input(
    args: list[str], message: str, write_storyboard: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    board = write_storyboard(1)

    result = cli("stitch", board, *args)

    assert (result.exit_code, result.stderr) == (2, message)


@pytest.mark.parametrize("footage", [False, True])
def test_crossfades_in_a_delivery_frame_keep_sync(
    footage: bool, marker_clips: list[MarkerClip], tmp_path: Path
) -> None:
    sources = [Source(f"c{n}", c.path) for n, c in enumerate(marker_clips[:3])]
    markers = [c.marker for c in marker_clips[:3]]
    if footage:  # another size: every clip is fitted on its own, then faded
        wide = mediatools.make_marker_clip(tmp_path / "wide.mp4", marker_frame=36,
                                           size=(640, 360), audio_rate=48_000)  # fmt: skip
        sources.insert(1, Source("wide", wide.path, footage=True))
        markers.insert(1, wide.marker)

    result = join(sources, output=tmp_path / "cut.mp4", scratch=tmp_path / "tmp",
                  options=_shorts(crossfade=0.5))  # fmt: skip

    assert _streams(result.output)[0] == ("h264", 1080, 1920, "yuv420p")
    worst, frames, beeps = mediatools.worst_offset(result.output)
    assert len(frames) == len(beeps) == len(sources) and worst <= FRAME, (frames, beeps)
    for found, clip, marker in zip(frames, result.clips, markers, strict=True):
        assert abs(found - (clip.start + marker)) <= FRAME


def test_without_a_frame_the_cut_takes_its_first_generated_clips_own_size(
    marker_clips: list[MarkerClip], tmp_path: Path
) -> None:
    from f1gen.stitch.cut import layout, own_shape
    from f1gen.stitch.ffargs import Shape

    tall = mediatools.make_marker_clip(tmp_path / "tall.mp4", marker_frame=40, size=(704, 1280))
    spec = Shape(576, 896, 24)
    phone = Source("phone", marker_clips[0].path, footage=True)

    assert own_shape(layout([phone, Source("t", tall.path)]), spec) == Shape(704, 1280, 24)
    assert own_shape(layout([phone]), spec) == spec  # footage alone: the backend's shape


def test_sizes_alternating_more_often_than_decoders_are_kept_open_still_cut_in_sync(
    marker_clips: list[MarkerClip], tmp_path: Path
) -> None:
    tall = mediatools.make_marker_clip(tmp_path / "tall.mp4", marker_frame=40, size=(704, 1280))
    # seven runs of one size each, one more than MAX_RUNS decoders: each clip is fitted alone
    clips = [marker_clips[n] if n % 2 == 0 else tall for n in range(7)]

    result = join([Source(f"c{n}", c.path) for n, c in enumerate(clips)],
                  output=tmp_path / "cut.mp4", scratch=tmp_path / "tmp",
                  options=_shorts(fill="pad"))  # fmt: skip

    assert _streams(result.output)[0] == ("h264", 1080, 1920, "yuv420p")
    worst, frames, beeps = mediatools.worst_offset(result.output)
    assert len(frames) == len(beeps) == 7 and worst <= FRAME, (frames, beeps)
    for found, clip, marker in zip(frames, result.clips, clips, strict=True):
        assert abs(found - (clip.start + marker.marker)) <= FRAME
