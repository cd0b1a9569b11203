"""The cut's recipe as text: ffmpeg arguments, ffconcat lists and filter graphs.

Pure builders: nothing here runs ffmpeg, probes, draws or touches a file. Each takes plain values
(paths, seconds, frame counts, the cut's shape) and returns a string or an argument list, so the
recipe can be read and tested without any media.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from ..errors import StitchError
from ..media import PCM_BYTES, PCM_FORMAT

if TYPE_CHECKING:
    from ..captions import Cue
    from ..clipspec import ClipSpec

AUDIO_RATE = 48_000
AUDIO_BITRATE = "192k"
# True peaks are the peaks of the sound at four times its rate (ITU-R BS.1770): the limiter
# works there, so that what it holds under the ceiling is the true peak, not the sample peak.
OVERSAMPLED = 4 * AUDIO_RATE
# The limiter: 5 ms of look-ahead (compensated: the sound stays on its picture), 50 ms release.
LIMITER = "attack=5:release=50:level=false:latency=true"
HEADROOM = 0.5  # dB under the true-peak ceiling: the AAC encode can add a few tenths
SAMPLE_BYTES = 2 * PCM_BYTES  # one stereo float sample
PCM_INPUT = ["-f", "f32le", "-ar", str(AUDIO_RATE), "-ac", "2"]  # -ac: older ffmpegs too
FFCONCAT = "ffconcat version 1.0"


@dataclass(frozen=True)
class Shape:
    """The cut's picture: frame size and rate, those of the backend that made its clips."""

    width: int
    height: int
    fps: int

    @classmethod
    def of(cls, spec: ClipSpec) -> Shape:
        """The shape of the clips spec describes."""
        return cls(spec.size[0], spec.size[1], spec.fps)

    @property
    def size(self) -> tuple[int, int]:
        """Width and height."""
        return self.width, self.height

    @property
    def preview(self) -> tuple[int, int]:
        """The proof cut's size: half, rounded down to even numbers (yuv420p needs them)."""
        return self.width // 4 * 2, self.height // 4 * 2


@dataclass(frozen=True)
class Loudness:
    """What the first pass measured of the joined sound (EBU R128: LUFS, LU, dBTP)."""

    input_i: float
    input_tp: float
    input_lra: float
    input_thresh: float


class Slot(Protocol):
    """A clip's place in the cut, in seconds (a CutClip is one)."""

    @property
    def start(self) -> float:
        """Where the clip starts in the cut."""
        ...

    @property
    def duration(self) -> float:
        """How long its slot is: its picture's duration."""
        ...


Fill = Literal["blur", "crop", "pad"]
FILLS: tuple[Fill, ...] = ("blur", "crop", "pad")
# The blurred fill is made at an eighth of the frame's size and scaled up: as soft as a wide blur
# at full size, for a sixtieth of the work. Darkened, so that the picture itself stands out.
FILL_SHRINK = 8
FILL_BLUR = 6  # box radius at the shrunk size, three passes (nearly a Gaussian)
FILL_DIM = 0.5  # of the fill's brightness (luma above black) kept


def _even(value: float) -> int:
    return max(16, round(value / 2) * 2)  # 16: room for the blur's box in the chroma planes


def fit_graph(source: str, output: str, *, frame: tuple[int, int], fill: Fill, tag: str) -> str:
    """A filter graph fragment that fits the picture labelled source, whatever its size, into the
    frame, labelled output: scaled to fit and centred, the rest filled with a blurred, darkened
    copy of itself (blur) or black (pad); or scaled to fill, its overflow cut (crop).

    Each clip of a cut is fitted by the same rule, so clips of any sizes sit alike in the frame.
    tag keeps the fragment's own labels apart from the rest of the graph.
    """
    width, height = frame
    if fill == "crop":
        return (
            f"[{source}]scale={width}:{height}:force_original_aspect_ratio=increase,"
            f"crop={width}:{height},setsar=1[{output}]"
        )
    fitted = f"scale={width}:{height}:force_original_aspect_ratio=decrease:force_divisible_by=2"
    if fill == "pad":
        return f"[{source}]{fitted},pad={width}:{height}:(ow-iw)/2:(oh-ih)/2,setsar=1[{output}]"
    small = _even(width / FILL_SHRINK), _even(height / FILL_SHRINK)
    radius = min(FILL_BLUR, min(small) // 4)  # at most half the chroma planes' side
    return (
        f"[{source}]split=2[{tag}p][{tag}b];"
        f"[{tag}b]scale={small[0]}:{small[1]}:force_original_aspect_ratio=increase,"
        f"crop={small[0]}:{small[1]},boxblur={radius}:3,lutyuv=y=16+(val-16)*{FILL_DIM},"
        f"scale={width}:{height},setsar=1[{tag}f];"
        f"[{tag}p]{fitted},setsar=1[{tag}q];"
        f"[{tag}f][{tag}q]overlay=(W-w)/2:(H-h)/2[{output}]"
    )


def normalize_chain(
    shape: Shape,
    *,
    duration: float,
    trim: tuple[float, float] | None = None,
    fill: Fill = "blur",
) -> str:
    """A filter graph (from the input's first video stream to [v]) that makes a clip's picture
    the cut's frame (fitted by fill), its rate, yuv420p, starting at its first frame (or at
    trim's start) and duration seconds long."""
    cut = f"trim=start={trim[0]:.6f}:end={trim[1]:.6f}," if trim else ""
    return (
        f"[0:v:0]{cut}setpts=PTS-STARTPTS,fps={shape.fps}[n];"
        f"{fit_graph('n', 'fit', frame=shape.size, fill=fill, tag='n')};"
        f"[fit]format=yuv420p,trim=duration={duration:.6f}[v]"
    )


def normalize_command(
    source: Path,
    output: Path,
    *,
    shape: Shape,
    duration: float,
    trim: tuple[float, float] | None = None,
    fill: Fill = "blur",
) -> list[str]:
    """One clip's picture alone, fitted into the cut's frame, nearly lossless: memory is one
    clip's, however many clips the cut has."""
    graph = normalize_chain(shape, duration=duration, trim=trim, fill=fill)
    return ["-i", str(source), "-filter_complex", graph, "-map", "[v]", "-an",
            "-c:v", "libx264", "-preset", "veryfast", "-crf", "12", "-pix_fmt", "yuv420p",
            "-f", "mp4", str(output)]  # fmt: skip


def remux_command(source: Path, output: Path) -> list[str]:
    """A take's picture copied alone, for a file whose video is not its first stream."""
    return ["-i", str(source), "-map", "0:v:0", "-c", "copy", "-f", "mp4", str(output)]


@dataclass(frozen=True)
class Piece:
    """One entry of an ffconcat list: a file, read from inpoint for duration seconds."""

    path: Path
    inpoint: float
    duration: float
    outpoint: float | None = None


def _file_line(path: Path) -> str:
    """An ffconcat file line: the path absolute (ffconcat resolves from the list's folder), in
    single quotes, a quote in it written '\\''."""
    quoted = str(path.absolute()).replace("'", "'\\''")
    return f"file '{quoted}'"


def ffconcat(pieces: Sequence[Piece]) -> str:
    """An ffconcat list of pieces, in order."""
    lines = [FFCONCAT]
    for piece in pieces:
        lines += [_file_line(piece.path), f"inpoint {piece.inpoint:.6f}"]
        if piece.outpoint is not None:
            lines.append(f"outpoint {piece.outpoint:.6f}")
        lines.append(f"duration {piece.duration:.6f}")
    return "\n".join(lines) + "\n"


def caption_listing(cues: Sequence[Cue], *, art: Sequence[Path], blank: Path) -> str:
    """An ffconcat list of still images: each cue's art for its cue, the blank image between
    cues and for a second after the last (the concat demuxer needs a last frame to end on)."""
    lines = [FFCONCAT]
    now = 0.0
    for cue, image in zip(cues, art, strict=True):
        if cue.start > now:
            lines += [_file_line(blank), f"duration {cue.start - now:.6f}"]
        lines += [_file_line(image), f"duration {cue.end - cue.start:.6f}"]
        now = cue.end
    lines += [_file_line(blank), f"duration {1.0:.6f}"]
    return "\n".join(lines) + "\n"


def transition_frames(slots: Sequence[Slot], *, fps: int) -> tuple[list[int], list[int]]:
    """Where each clip starts in the joined picture (frames, the end appended) and how many
    frames each transition lasts, rounded so that every clip starts within half a frame of its
    place on the shortened timeline: nothing drifts, however many transitions."""
    starts, at = [], 0.0
    for slot in slots:
        starts.append(round(at * fps))
        at += slot.duration
    starts.append(round(at * fps))
    cut = [starts[k] - round(slot.start * fps) for k, slot in enumerate(slots)]
    return starts, [b - a for a, b in itertools.pairwise(cut)]


def crossfade_chains(
    starts: Sequence[int], lengths: Sequence[int], *, joined: int, heads: int, fps: int
) -> str:
    """The joined picture with every transition, from two decoders whatever the clip count.

    Input joined holds every clip end to end; input heads the first frames of every clip but the
    first. The heads leave the joined picture, and each is laid, fading in, over the end of the
    clip before it.
    """
    dropped = "+".join(
        f"between(n,{starts[k + 1]},{starts[k + 1] + n - 1})" for k, n in enumerate(lengths)
    )
    chains = [f"[{joined}:v:0]fps={fps},select='not({dropped})',setpts=N/({fps}*TB)[bodies]"]
    offsets = [0, *itertools.accumulate(lengths)]  # heads before each transition
    tails = [starts[k + 1] - n - offsets[k] for k, n in enumerate(lengths)]
    windows = [
        f"between(t,{(tail - 0.5) / fps:.6f},{(tail + n - 0.5) / fps:.6f})"
        for tail, n in zip(tails, lengths, strict=True)
    ]
    # the first n frames of each head piece (which has n + 1: see head_pieces)
    picked = "+".join(
        f"between(t,{(offsets[k] + k - 0.5) / fps:.6f},{(offsets[k] + k + n - 0.5) / fps:.6f})"
        for k, n in enumerate(lengths)
    )
    shift = str(tails[0] - offsets[0]) + "".join(
        f"+({(tails[k] - offsets[k]) - (tails[k - 1] - offsets[k - 1])})*gte(N,{offsets[k]})"
        for k in range(1, len(lengths))
    )
    fades = "".join(
        f",fade=t=in:st={tail / fps:.6f}:d={n / fps:.6f}:alpha=1:enable='{window}'"
        for tail, n, window in zip(tails, lengths, windows, strict=True)
        if n  # a crossfade shorter than half a frame has nothing to fade
    )
    chains.append(
        f"[{heads}:v:0]select='{picked}',setpts='(N+{shift})/({fps}*TB)',format=yuva420p{fades}[heads]"
    )
    chains.append(
        f"[bodies][heads]overlay=eof_action=pass:repeatlast=0:enable='{'+'.join(windows)}'[vjoined]"
    )
    return ";".join(chains)


def head_pieces(videos: Sequence[Piece], lengths: Sequence[int], *, fps: int) -> list[Piece]:
    """The first frames of every clip but the first, one frame more than each transition needs
    (so that pieces start on whole frames), for the heads input of crossfade_chains."""
    return [
        Piece(video.path, video.inpoint, (n + 1) / fps, video.inpoint + (n + 0.5) / fps)
        for video, n in zip(videos[1:], lengths, strict=True)
    ]


def track_spans(slots: Sequence[Slot]) -> list[tuple[int, int]]:
    """Each clip's sound in samples: its own length, and how much it shares with the clip before
    (a crossfade). Rounded from the timeline, so the sound never drifts from the picture."""
    spans = []
    previous_end = 0
    for slot in slots:
        start = round(slot.start * AUDIO_RATE)
        end = round((slot.start + slot.duration) * AUDIO_RATE)
        spans.append((end - start, previous_end - start))
        previous_end = end
    return spans


def audio_chain(
    samples: int, *, trim: tuple[float, float] | None = None, fade: float = 0.0, pad: bool = True
) -> str:
    """Filters that make a clip's sound exactly its slot (samples long), 48 kHz float stereo,
    from trim's start when trimmed, with fades of fade seconds at each end (0: none); pad=False:
    at most its slot, a sound that ends early left short (the mix fills it with room tone)."""
    length = samples / AUDIO_RATE
    fades = (
        f",afade=t=in:st=0:d={fade:.3f},afade=t=out:st={length - fade:.6f}:d={fade:.3f}"
        if fade
        else ""
    )
    skip = f"atrim=start={trim[0]:.6f},asetpts=PTS-STARTPTS," if trim else ""
    # async with first_pts=0 lines the sound up with the picture's first frame (silence where it
    # starts late); apad + atrim makes it exactly as long as the picture.
    return (
        f"aresample={AUDIO_RATE}:async=1:first_pts=0,{skip}"
        f"aformat=sample_fmts={PCM_FORMAT}:sample_rates={AUDIO_RATE}:channel_layouts=stereo,"
        f"{'apad,' if pad else ''}atrim=end_sample={samples},asetpts=N/SR/TB{fades}"
    )


def measure_command() -> list[str]:
    """The first loudness pass: EBU R128 loudness, range and true peak of the sound on stdin,
    and the loudness of every 400 ms block (see parse_blocks)."""
    return ["-loglevel", "info", *PCM_INPUT, "-i", "pipe:0",
            "-af", "ebur128=peak=true:framelog=info", "-f", "null", "-"]  # fmt: skip


def parse_blocks(stderr: str) -> tuple[float, ...]:
    """The momentary loudness ebur128 logs every 100 ms (framelog=info): the loudness of each
    400 ms gating block of the integrated loudness, in LUFS."""
    return tuple(float(value) for value in re.findall(r" M:\s*(-?[\d.]+|-inf) S:", stderr))


def _summary_value(summary: str, pattern: str) -> float | None:
    found = re.search(pattern, summary, re.DOTALL)
    return float(found.group(1)) if found else None


_INTEGRATED = r"I:\s+(-?[\d.]+|-?inf) LUFS"


def parse_loudness(stderr: str) -> Loudness | None:
    """What ebur128's last summary says; None for a silent cut (nothing to normalize)."""
    summary = stderr[stderr.rfind("Summary:") :]
    values = {
        key: _summary_value(summary, pattern)
        for key, pattern in (
            ("input_i", _INTEGRATED),
            ("input_thresh", r"I:.*?Threshold:\s+(-?[\d.]+|-?inf) LUFS"),
            ("input_lra", r"LRA:\s+(-?[\d.]+|-?inf) LU\b"),
            ("input_tp", r"Peak:\s+(-?[\d.]+|-?inf) dBFS"),
        )
    }
    if any(v is None for v in values.values()) or "Summary:" not in stderr:
        raise StitchError(
            "stitch: ffmpeg's loudness measurement could not be read: try --no-loudnorm"
        )
    measured = {key: v for key, v in values.items() if v is not None}
    if measured["input_i"] <= -70 or any(math.isinf(v) or math.isnan(v) for v in measured.values()):
        return None  # silence stays silence
    return Loudness(**measured)


@dataclass(frozen=True)
class Leveling:
    """The second loudness pass: one gain (dB), and, when that gain would take true peaks over
    the ceiling (dBTP), a limiter holding them under it. No compression: the cut's dynamics, the
    speech's above all, stay as they were made; only peaks are limited."""

    gain: float
    ceiling: float | None = None  # None: the gain alone keeps the peaks under the ceiling


def ceiling_of(true_peak: float) -> float:
    """The true-peak ceiling the sound is made under, for a cut whose peaks must stay under
    true_peak after the AAC encode."""
    return true_peak - HEADROOM


def first_leveling(measured: Loudness, *, gain: float, true_peak: float) -> Leveling:
    """The gain (the one that takes the measured sound to its target), limited when it would
    take the sound's true peaks over the ceiling."""
    ceiling = ceiling_of(true_peak)
    return Leveling(gain, ceiling if measured.input_tp + gain > ceiling else None)


def leveling_filter(leveling: Leveling, *, true_peaks: bool = True) -> str:
    """The filters of a leveling: a gain, and the limiter at four times the rate (true_peaks) or
    at the sound's own rate (enough to estimate the loudness it leaves, and four times quicker)."""
    volume = f"volume={leveling.gain:.2f}dB"
    if leveling.ceiling is None:
        return volume
    limiter = f"alimiter=limit={10 ** (leveling.ceiling / 20):.5f}:{LIMITER}"
    if not true_peaks:
        return f"{volume},{limiter}"
    return f"aresample={OVERSAMPLED},{volume},{limiter},aresample={AUDIO_RATE}"


def probe_command(sound: Path, leveling: Leveling) -> list[str]:
    """The integrated loudness of the raw sound file as leveling would leave it (a quick pass:
    no true peak, the limiter at the sound's own rate)."""
    chain = f"{leveling_filter(leveling, true_peaks=False)},ebur128=framelog=quiet"
    return ["-loglevel", "info", *PCM_INPUT, "-i", str(sound),
            "-af", chain, "-f", "null", "-"]  # fmt: skip


def parse_integrated(stderr: str) -> float:
    """The integrated loudness in ebur128's last summary (LUFS; -70 or less for silence)."""
    summary = stderr[stderr.rfind("Summary:") :]
    value = _summary_value(summary, _INTEGRATED) if "Summary:" in stderr else None
    if value is None:
        raise StitchError(
            "stitch: ffmpeg's loudness measurement could not be read: try --no-loudnorm"
        )
    return value if not math.isnan(value) else -math.inf


@dataclass(frozen=True)
class Transitions:
    """The crossfades' input: an ffconcat list of every later clip's first frames (head_pieces),
    and the frame math of transition_frames."""

    heads: Path
    starts: tuple[int, ...]
    lengths: tuple[int, ...]


@dataclass(frozen=True)
class Run:
    """Clips next to each other in the cut whose pictures share one size: one ffconcat list, read
    by one decoder (a decoder cannot change size mid-stream without resetting the graph)."""

    listing: Path
    size: tuple[int, int]


def joined_picture(runs: Sequence[Run], *, shape: Shape, fill: Fill, first: int) -> str:
    """The chains that make [vjoined], the cut's whole picture in its frame and rate, from the
    runs read as inputs first, first + 1...: each run fitted into the frame (unless it is the
    frame's size), then joined end to end."""
    chains, labels = [], []
    for k, run in enumerate(runs):
        label = "vjoined" if len(runs) == 1 else f"run{k}"
        if run.size == shape.size:
            chains.append(f"[{first + k}:v:0]fps={shape.fps}[{label}]")
        else:
            chains.append(f"[{first + k}:v:0]fps={shape.fps}[raw{k}]")
            chains.append(fit_graph(f"raw{k}", label, frame=shape.size, fill=fill, tag=f"r{k}"))
        labels.append(f"[{label}]")
    if len(runs) > 1:
        chains.append(f"{''.join(labels)}concat=n={len(runs)}:v=1:a=0[vjoined]")
    return ";".join(chains)


def build_command(
    *,
    output: Path,
    pictures: Path | Sequence[Run],
    shape: Shape,
    copy: bool,
    sound: Path | None = None,
    leveling: Leveling | None = None,
    transitions: Transitions | None = None,
    captions: Path | None = None,
    captions_at: tuple[int, int] = (0, 0),
    preview: bool = False,
    fill: Fill = "blur",
) -> list[str]:
    """The ffmpeg arguments for the cut: sound from stdin (or the file sound), raw; the picture
    from the ffconcat list pictures (or from runs of clips of one size each, every run fitted
    into the cut's frame by fill), stream-copied (copy) or decoded once into the cut's shape,
    with transitions and the captions list laid over it (its images' top left corner at
    captions_at); leveling: the second loudness pass,
    whose sound is measured as it goes to the encoder (ebur128's summary, on stderr).

    Every input starts at zero by construction, so timestamps are kept as they are (-copyts):
    nothing can shift the picture against the sound.
    """
    runs = [Run(pictures, shape.size)] if isinstance(pictures, Path) else list(pictures)
    assert runs and (copy or transitions is None or len(runs) == 1), "one run to copy or fade"
    args = ["-copyts", *PCM_INPUT, "-i", str(sound or "pipe:0")]
    for run in runs:
        args += ["-f", "concat", "-safe", "0", "-i", str(run.listing)]
    chains: list[str] = []
    audio_map = "0:a"
    if leveling:
        args = ["-loglevel", "info", *args]  # for the summary of what was made
        chains.append(
            f"[0:a]{leveling_filter(leveling)},asplit=2[aout][made];"
            "[made]ebur128=peak=true:framelog=quiet,anullsink"
        )
        audio_map = "[aout]"
    if copy:
        video_map, video_codec = "1:v:0", ["-c:v", "copy"]
    else:
        track = 1 + len(runs)  # the next input
        if transitions is not None:
            args += ["-f", "concat", "-safe", "0", "-i", str(transitions.heads)]
            chains.append(
                crossfade_chains(
                    transitions.starts, transitions.lengths, joined=1, heads=2, fps=shape.fps
                )
            )
            track += 1
            joined_video = "vjoined"
            if runs[0].size != shape.size:  # the clips' own size, faded, then fitted
                chains.append(fit_graph("vjoined", "vframed", frame=shape.size, fill=fill, tag="x"))
                joined_video = "vframed"
        else:
            chains.append(joined_picture(runs, shape=shape, fill=fill, first=1))
            joined_video = "vjoined"
        if captions is not None:
            # One input carries every caption image, each held for its cue: decoded in order,
            # so memory stays flat however many scenes there are.
            args += ["-f", "concat", "-safe", "0", "-i", str(captions)]
            # caption images cover their zone alone, laid there: the blend is that area's work
            at = f":x={captions_at[0]}:y={captions_at[1]}" if any(captions_at) else ""
            chains.append(
                f"[{track}:v]setpts=PTS-STARTPTS[captions];"
                f"[{joined_video}][captions]overlay=format=auto:eof_action=pass{at}[captioned]"
            )
            joined_video = "captioned"
        scale = f",scale={shape.preview[0]}:{shape.preview[1]}" if preview else ""
        chains.append(f"[{joined_video}]format=yuv420p{scale}[vout]")
        video_map = "[vout]"
        preset, crf = ("ultrafast", "30") if preview else ("veryfast", "20")
        video_codec = ["-c:v", "libx264", "-preset", preset, "-crf", crf]
        video_codec += ["-pix_fmt", "yuv420p", "-r", str(shape.fps)]
    if chains:
        args += ["-filter_complex", ";".join(chains)]
    args += ["-map", video_map, "-map", audio_map]
    # The fast AAC coder is about 3x quicker than the default twoloop, and transparent at 192k.
    args += [*video_codec, "-c:a", "aac", "-aac_coder", "fast", "-b:a", AUDIO_BITRATE]
    args += ["-ar", str(AUDIO_RATE), "-ac", "2", "-movflags", "+faststart"]
    args += ["-f", "mp4", str(output)]
    return args
