"""The cut's recipe, read as text: ffmpeg arguments, ffconcat lists and filter graphs, built
without running ffmpeg or touching a file."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from f1gen.captions import Cue
from f1gen.errors import StitchError
from f1gen.stitch.ffargs import (
    Leveling,
    Loudness,
    Piece,
    Run,
    Shape,
    Transitions,
    audio_chain,
    build_command,
    caption_listing,
    ffconcat,
    first_leveling,
    fit_graph,
    leveling_filter,
    measure_command,
    normalize_chain,
    normalize_command,
    parse_blocks,
    parse_integrated,
    parse_loudness,
    probe_command,
    track_spans,
    transition_frames,
)

OVI = Shape(576, 896, 24)
OTHER = Shape(480, 832, 30)
OUT = Path("/work/cut.mp4")
PICTURES = Path("/work/tmp/pictures.txt")

# ffmpeg 9.0's ebur128 summary (`-af ebur128=peak=true:framelog=quiet`) of an 8 s sine, and of
# 4 s of silence, as printed on stderr.
SUMMARY = """\
[Parsed_ebur128_0 @ 0x7fcff4001c00] Summary:

  Integrated loudness:
    I:         -15.7 LUFS
    Threshold: -25.7 LUFS

  Loudness range:
    LRA:         0.0 LU
    Threshold: -35.7 LUFS
    LRA low:   -15.7 LUFS
    LRA high:  -15.7 LUFS

  True peak:
    Peak:      -12.0 dBFS
[out#0/null @ 0x562104505100] video:0KiB audio:1500KiB subtitle:0KiB other streams:0KiB global \
headers:0KiB muxing overhead: unknown
size=N/A time=00:00:08.00 bitrate=N/A speed= 243x elapsed=0:00:00.03
"""
SILENT_SUMMARY = """\
[Parsed_ebur128_0 @ 0x7f5fe8001c00] Summary:

  Integrated loudness:
    I:         -70.0 LUFS
    Threshold:   0.0 LUFS

  Loudness range:
    LRA:         0.0 LU
    Threshold:   0.0 LUFS
    LRA low:     0.0 LUFS
    LRA high:    0.0 LUFS

  True peak:
    Peak:       -inf dBFS
"""


@dataclass(frozen=True)
class Slot:
    start: float
    duration: float


def _slots(durations: list[float], crossfade: float = 0.0) -> list[Slot]:
    """Clips laid end to end, each overlapping the one before by crossfade (as layout does)."""
    slots, start = [], 0.0
    for duration in durations:
        slots.append(Slot(start, duration))
        start += duration - crossfade
    return slots


def _after(args: list[str], flag: str) -> str:
    return args[args.index(flag) + 1]


def _maps(args: list[str]) -> list[str]:
    return [value for flag, value in itertools.pairwise(args) if flag == "-map"]


def test_a_copy_cut_maps_the_pictures_as_they_are_and_an_encode_does_not() -> None:
    copied = build_command(output=OUT, pictures=PICTURES, shape=OVI, copy=True)
    encoded = build_command(output=OUT, pictures=PICTURES, shape=OVI, copy=False)

    assert _maps(copied) == ["1:v:0", "0:a"] and _after(copied, "-c:v") == "copy"
    assert "-filter_complex" not in copied
    assert _maps(encoded) == ["[vout]", "0:a"] and _after(encoded, "-c:v") == "libx264"
    assert "1:v:0" not in encoded and "copy" not in encoded
    graph = _after(encoded, "-filter_complex")
    assert graph == "[1:v:0]fps=24[vjoined];[vjoined]format=yuv420p[vout]"
    assert copied[-3:] == encoded[-3:] == ["-f", "mp4", str(OUT)]


@pytest.mark.parametrize(
    ("measured", "leveling", "second_pass"),
    [
        # the gain keeps the true peaks under -1.5 dBTP (the ceiling, 0.5 dB under -1 dBTP for
        # the AAC encode): the gain alone
        (Loudness(input_i=-20.0, input_tp=-9.0, input_lra=14.0, input_thresh=-30.0),
         Leveling(6.0), "volume=6.00dB"),
        # it would take them to +3 dBTP: the gain, and a limiter holding the true peaks (those
        # at four times the rate) under the ceiling, its delay compensated
        (Loudness(input_i=-20.0, input_tp=-3.0, input_lra=6.0, input_thresh=-30.0),
         Leveling(6.0, -1.5),
         "aresample=192000,volume=6.00dB,alimiter=limit=0.84140:attack=5:release=50:level=false"
         ":latency=true,aresample=48000"),
    ],
)  # fmt: skip
def test_the_second_loudness_pass_is_one_gain_and_a_limiter_only_where_peaks_need_it(
    measured: Loudness, leveling: Leveling, second_pass: str
) -> None:
    found = first_leveling(measured, gain=-14.0 - measured.input_i, true_peak=-1.0)

    assert found == leveling and leveling_filter(found) == second_pass


def test_the_loudness_a_leveling_leaves_is_estimated_quickly_from_the_kept_sound() -> None:
    probe = probe_command(Path("/work/tmp/sound.f32"), Leveling(9.5, -1.5))

    assert _after(probe, "-i") == "/work/tmp/sound.f32"
    # the limiter at the sound's own rate, and no true peak: a quarter of the work
    assert _after(probe, "-af") == (
        "volume=9.50dB,alimiter=limit=0.84140:attack=5:release=50:level=false:latency=true,"
        "ebur128=framelog=quiet"
    )
    assert parse_integrated(SUMMARY) == -15.7 and parse_integrated(SILENT_SUMMARY) == -70.0


def test_the_leveled_sound_is_measured_on_its_way_to_the_encoder() -> None:
    args = build_command(output=OUT, pictures=PICTURES, shape=OVI, copy=True,
                         sound=Path("/work/tmp/sound.f32"), leveling=Leveling(6.0))  # fmt: skip

    assert _after(args, "-filter_complex") == (
        "[0:a]volume=6.00dB,asplit=2[aout][made];[made]ebur128=peak=true:framelog=quiet,anullsink"
    )
    assert _after(args, "-loglevel") == "info"  # where ebur128 writes its summary
    assert _maps(args) == ["1:v:0", "[aout]"]
    assert _after(args, "-i") == "/work/tmp/sound.f32"  # the first pass kept it: not decoded twice


def test_a_silent_cut_gets_no_loudness_filter() -> None:
    measured = parse_loudness(SILENT_SUMMARY)

    args = build_command(output=OUT, pictures=PICTURES, shape=OVI, copy=True)

    assert measured is None
    assert "-filter_complex" not in args and "[aout]" not in args
    assert _after(args, "-i") == "pipe:0"


# Three of ffmpeg 9.0's per-frame lines (`ebur128=peak=true:framelog=info`): the first before
# a whole 400 ms block was heard.
FRAMES = """\
[Parsed_ebur128_0 @ 0x7f5a80001c00] t: 0.0999792  TARGET:-23 LUFS    M:-120.7 S:-120.7     I: -70.0 LUFS       LRA:   0.0 LU  FTPK: -29.0 -29.0 dBFS  TPK: -29.0 -29.0 dBFS
[Parsed_ebur128_0 @ 0x7f5a80001c00] t: 59.999979  TARGET:-23 LUFS    M: -33.9 S: -33.7     I: -20.8 LUFS       LRA:  12.2 LU  FTPK: -29.5 -29.5 dBFS  TPK:  -4.0  -4.0 dBFS
[Parsed_ebur128_0 @ 0x7f5a80001c00] t: 60.099979  TARGET:-23 LUFS    M:  -4.3 S: -33.7     I: -20.8 LUFS       LRA:  12.2 LU  FTPK: -36.9 -36.9 dBFS  TPK:  -4.0  -4.0 dBFS
"""


def test_the_first_pass_logs_every_gating_block_and_they_are_read() -> None:
    assert "framelog=info" in _after(measure_command(), "-af")
    assert parse_blocks(FRAMES + SUMMARY) == (-120.7, -33.9, -4.3)


def test_parse_loudness_reads_ffmpegs_ebur128_summary() -> None:
    assert parse_loudness(SUMMARY) == Loudness(
        input_i=-15.7, input_tp=-12.0, input_lra=0.0, input_thresh=-25.7
    )


@pytest.mark.parametrize("stderr", ["", "Summary:\n  nothing measured\n", SUMMARY[:200]])
def test_a_loudness_summary_that_cannot_be_read_says_what_to_do(stderr: str) -> None:
    with pytest.raises(
        StitchError,
        match=r"^stitch: ffmpeg's loudness measurement could not be read: try --no-loudnorm$",
    ):
        parse_loudness(stderr)


@pytest.mark.parametrize(
    ("durations", "crossfade"),
    [
        ([121 / 24] * 24, 0.5),  # Ovi clips, half-second transitions
        ([121 / 24, 122 / 24, 4.0, 5.5, 121 / 24, 3.3], 0.3),  # footage of other lengths
        ([5.0, 3.37, 7.13, 4.21, 2.99], 0.27),  # nothing on a frame boundary
        ([121 / 24] * 5, 0.01),  # shorter than half a frame: nothing to fade
    ],
)
def test_every_clip_starts_within_half_a_frame_and_the_transitions_add_up(
    durations: list[float], crossfade: float
) -> None:
    slots = _slots(durations, crossfade)

    starts, lengths = transition_frames(slots, fps=24)

    assert len(starts) == len(slots) + 1 and len(lengths) == len(slots) - 1
    for k, slot in enumerate(slots):
        # a clip's first frame in the cut: where it is in the joined picture, less the
        # transitions before it
        assert abs(starts[k] - sum(lengths[:k]) - slot.start * 24) <= 0.5
        assert abs(starts[k] - sum(durations[:k]) * 24) <= 0.5
    assert all(abs(n - crossfade * 24) <= 1 for n in lengths)
    assert abs(sum(lengths) - (len(slots) - 1) * crossfade * 24) <= 1  # no drift, however many
    end = slots[-1].start + slots[-1].duration
    assert abs(starts[-1] - sum(lengths) - end * 24) <= 1


def test_the_sound_spans_follow_the_timeline_to_the_sample() -> None:
    slots = _slots([121 / 24, 4.0, 121 / 24], crossfade=0.5)

    assert track_spans(slots) == [(242_000, 0), (192_000, 24_000), (242_000, 24_000)]
    assert track_spans(_slots([121 / 24] * 2)) == [(242_000, 0), (242_000, 0)]


def test_ffconcat_quotes_a_path_containing_a_quote() -> None:
    listing = ffconcat([Piece(Path("/clips/Max's take.mp4"), 0.021, 5.0417),
                        Piece(Path("/clips/b.mp4"), 0.0, 0.125, outpoint=0.104)])  # fmt: skip

    assert listing == (
        "ffconcat version 1.0\n"
        "file '/clips/Max'\\''s take.mp4'\ninpoint 0.021000\nduration 5.041700\n"
        "file '/clips/b.mp4'\ninpoint 0.000000\noutpoint 0.104000\nduration 0.125000\n"
    )


def test_ffconcat_names_files_by_absolute_paths() -> None:
    listing = ffconcat([Piece(Path("clips/a.mp4"), 0.0, 5.0)])

    assert f"file '{Path.cwd() / 'clips/a.mp4'}'\n" in listing


def test_captions_are_held_for_their_cues_with_a_blank_between_and_after() -> None:
    cues = [Cue(0.0, 5.0, "One"), Cue(7.5, 10.0, "Two")]

    listing = caption_listing(cues, art=[Path("/t/c0.png"), Path("/t/c1's.png")],
                              blank=Path("/t/blank.png"))  # fmt: skip

    assert listing == (
        "ffconcat version 1.0\n"
        "file '/t/c0.png'\nduration 5.000000\n"
        "file '/t/blank.png'\nduration 2.500000\n"
        "file '/t/c1'\\''s.png'\nduration 2.500000\n"
        "file '/t/blank.png'\nduration 1.000000\n"
    )


def test_the_audio_chain_of_a_trimmed_clip_trims_and_an_untrimmed_one_does_not() -> None:
    trimmed = audio_chain(192_000, trim=(2.0, 6.0))
    whole = audio_chain(242_000)

    assert trimmed == (
        "aresample=48000:async=1:first_pts=0,atrim=start=2.000000,asetpts=PTS-STARTPTS,"
        "aformat=sample_fmts=flt:sample_rates=48000:channel_layouts=stereo,"
        "apad,atrim=end_sample=192000,asetpts=N/SR/TB"
    )
    assert "atrim=start" not in whole
    assert whole.endswith("apad,atrim=end_sample=242000,asetpts=N/SR/TB")


def test_the_audio_chain_fades_at_both_ends_of_the_slot() -> None:
    chain = audio_chain(240_000, fade=0.02)

    assert chain.endswith(",afade=t=in:st=0:d=0.020,afade=t=out:st=4.980000:d=0.020")


@pytest.mark.parametrize(("shape", "size"), [(OVI, "576:896"), (OTHER, "480:832")])
def test_the_normalize_chain_fits_a_clip_into_the_cuts_frame(shape: Shape, size: str) -> None:
    chain = normalize_chain(shape, duration=4.0, trim=(1.0, 5.0), fill="pad")

    assert chain == (
        "[0:v:0]trim=start=1.000000:end=5.000000,setpts=PTS-STARTPTS,"
        f"fps={shape.fps}[n];"
        f"[n]scale={size}:force_original_aspect_ratio=decrease:force_divisible_by=2,"
        f"pad={size}:(ow-iw)/2:(oh-ih)/2,setsar=1[fit];"
        "[fit]format=yuv420p,trim=duration=4.000000[v]"
    )
    command = normalize_command(Path("/f/phone.mp4"), Path("/t/own.mp4"), shape=shape,
                                duration=4.0, fill="pad")  # fmt: skip
    assert _after(command, "-filter_complex") == chain.replace(
        "trim=start=1.000000:end=5.000000,", ""
    )
    assert _maps(command) == ["[v]"]
    assert command[-1] == "/t/own.mp4" and "-an" in command


def test_each_fill_fits_a_picture_of_any_size_into_the_frame() -> None:
    frame = (1080, 1920)

    crop = fit_graph("in", "out", frame=frame, fill="crop", tag="c")
    pad = fit_graph("in", "out", frame=frame, fill="pad", tag="p")
    blur = fit_graph("in", "out", frame=frame, fill="blur", tag="b")

    # crop: scaled to cover the frame, the overflow cut off (the picture's centre kept)
    assert crop == (
        "[in]scale=1080:1920:force_original_aspect_ratio=increase,crop=1080:1920,setsar=1[out]"
    )
    # pad: scaled to fit, centred on black
    assert pad == (
        "[in]scale=1080:1920:force_original_aspect_ratio=decrease:force_divisible_by=2,"
        "pad=1080:1920:(ow-iw)/2:(oh-ih)/2,setsar=1[out]"
    )
    # blur: the picture scaled to fit and centred over a copy of itself made at an eighth of
    # the frame, covering it, blurred, darkened, then scaled up to the frame
    assert blur == (
        "[in]split=2[bp][bb];"
        "[bb]scale=136:240:force_original_aspect_ratio=increase,crop=136:240,boxblur=6:3,"
        "lutyuv=y=16+(val-16)*0.5,scale=1080:1920,setsar=1[bf];"
        "[bp]scale=1080:1920:force_original_aspect_ratio=decrease:force_divisible_by=2,"
        "setsar=1[bq];"
        "[bf][bq]overlay=(W-w)/2:(H-h)/2[out]"
    )
    # a tiny frame keeps the blur's box inside its chroma planes
    assert "boxblur=4:3" in fit_graph("in", "out", frame=(32, 32), fill="blur", tag="t")


def test_runs_of_clips_of_other_sizes_are_each_fitted_then_joined_in_the_cuts_own_run() -> None:
    frame = Shape(1080, 1920, 24)
    runs = [Run(Path("/t/a.txt"), (576, 896)), Run(Path("/t/b.txt"), (1080, 1920)),
            Run(Path("/t/c.txt"), (704, 1280))]  # fmt: skip

    args = build_command(output=OUT, pictures=runs, shape=frame, copy=False, fill="crop",
                         captions=Path("/t/captions.txt"), captions_at=(60, 240))  # fmt: skip

    assert [_after(args[k:], "-i") for k, a in enumerate(args) if a == "-i"] == [
        "pipe:0", "/t/a.txt", "/t/b.txt", "/t/c.txt", "/t/captions.txt"
    ]  # fmt: skip
    graph = _after(args, "-filter_complex")
    assert graph.startswith(
        "[1:v:0]fps=24[raw0];[raw0]scale=1080:1920:force_original_aspect_ratio=increase,"
        "crop=1080:1920,setsar=1[run0];"
        "[2:v:0]fps=24[run1];"  # the frame's own size: nothing to fit
        "[3:v:0]fps=24[raw2];[raw2]scale=1080:1920:force_original_aspect_ratio=increase,"
        "crop=1080:1920,setsar=1[run2];"
        "[run0][run1][run2]concat=n=3:v=1:a=0[vjoined];"
        "[4:v]setpts=PTS-STARTPTS[captions];"
        # the caption images hold the safe zone alone: laid at its corner
        "[vjoined][captions]overlay=format=auto:eof_action=pass:x=60:y=240[captioned]"
    )
    assert _maps(args) == ["[vout]", "0:a"] and _after(args, "-r") == "24"


def test_an_encoded_cut_and_its_preview_take_the_cuts_shape() -> None:
    encoded = build_command(output=OUT, pictures=PICTURES, shape=OTHER, copy=False)
    preview = build_command(output=OUT, pictures=PICTURES, shape=OTHER, copy=False, preview=True)

    assert _after(encoded, "-filter_complex").startswith("[1:v:0]fps=30[vjoined]")
    assert _after(encoded, "-r") == "30" and _after(encoded, "-preset") == "veryfast"
    assert _after(preview, "-filter_complex").endswith("format=yuv420p,scale=240:416[vout]")
    assert _after(preview, "-preset") == "ultrafast"
    assert not any("576" in a or "896" in a for a in [*encoded, *preview])


@pytest.mark.parametrize(
    ("shape", "preview"),
    [(OVI, (288, 448)), (OTHER, (240, 416)), (Shape(1080, 1920, 30), (540, 960)),
     (Shape(704, 1284, 24), (352, 642)), (Shape(702, 1282, 24), (350, 640))],
)  # fmt: skip
def test_a_preview_is_half_the_cuts_size_in_even_numbers(
    shape: Shape, preview: tuple[int, int]
) -> None:
    assert shape.preview == preview


@pytest.mark.parametrize(
    ("transitions", "captions", "inputs"),
    [
        (False, False, 2),  # the sound (raw, on stdin) and the picture (one ffconcat list)
        (False, True, 3),  # and the caption track
        (True, True, 4),  # and every clip's first frames
    ],
)
def test_ffmpeg_reads_the_cut_from_the_same_few_inputs_however_many_clips(
    transitions: bool, captions: bool, inputs: int
) -> None:
    slots = _slots([121 / 24] * 24, crossfade=0.5 if transitions else 0.0)
    starts, lengths = transition_frames(slots, fps=24)
    heads = Transitions(Path("/t/heads.txt"), tuple(starts), tuple(lengths))

    args = build_command(output=OUT, pictures=PICTURES, shape=OVI, copy=False,
                         transitions=heads if transitions else None,
                         captions=Path("/t/captions.txt") if captions else None)  # fmt: skip

    assert args.count("-i") == inputs and _after(args, "-i") == "pipe:0"
    graph = _after(args, "-filter_complex")
    assert ("[2:v:0]select=" in graph) == transitions
    assert bool(re.search(rf"\[{inputs - 1}:v\]setpts=PTS-STARTPTS\[captions\]", graph)) == captions


def test_crossfaded_clips_of_another_size_are_faded_then_fitted_into_the_frame() -> None:
    slots = _slots([121 / 24] * 3, crossfade=0.5)
    starts, lengths = transition_frames(slots, fps=24)
    heads = Transitions(Path("/t/heads.txt"), tuple(starts), tuple(lengths))

    args = build_command(output=OUT, pictures=[Run(Path("/t/a.txt"), (576, 896))],
                         shape=Shape(1080, 1920, 24), copy=False, transitions=heads, fill="pad")  # fmt: skip

    graph = _after(args, "-filter_complex")
    assert "overlay=eof_action=pass:repeatlast=0" in graph
    assert graph.endswith(
        "[vjoined]scale=1080:1920:force_original_aspect_ratio=decrease:force_divisible_by=2,"
        "pad=1080:1920:(ow-iw)/2:(oh-ih)/2,setsar=1[vframed];[vframed]format=yuv420p[vout]"
    )
