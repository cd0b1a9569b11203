"""The final cut: clips joined in order with sound and picture in sync at every boundary.

Why not `ffmpeg -f concat -c copy`: each AAC track is a little shorter than its video (1024-sample
frames) and carries encoder priming, so joined as they are the sound drifts by seconds over 24
clips. Here the picture is stream-copied when every clip shares its parameters (otherwise encoded
once), and the sound is rebuilt as one continuous track in which each clip's audio is aligned to
its first video frame and padded or trimmed to exactly its video's duration.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import re
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Protocol

from . import __version__, media
from .captions import Cue, draw_caption, to_srt, to_vtt
from .errors import BadInputError, MediaError, StitchError, WriteError
from .files import file_digest, move_durably, write_atomic
from .plan import scene_clip
from .prompts import build as build_prompt
from .state import RunState, StateStore
from .storyboard import Storyboard
from .sync import fetch_missing

if TYPE_CHECKING:
    from PIL import Image

    from .storage import Storage

# PIL (captions, review art) loads only when a cut is made: `f1gen status` imports scene_clip.

WIDTH, HEIGHT, FPS = 576, 896, 24
AUDIO_RATE = 48_000
AUDIO_BITRATE = "192k"
PREVIEW = (288, 448)
LOUDNESS_RANGE = 11  # LU: a wider cut is normalized dynamically, not by one gain


@dataclass(frozen=True)
class CutOptions:
    """How the cut is finished: captions, loudness, joins, and a quick preview."""

    burn_captions: bool = False
    loudnorm: bool = True
    loudness: float = -14.0  # LUFS integrated
    true_peak: float = -1.0  # dBTP ceiling
    fade_ms: int = 20
    crossfade: float = 0.0
    preview: bool = False

    @property
    def size(self) -> tuple[int, int]:
        """The output frame size."""
        return PREVIEW if self.preview else (WIDTH, HEIGHT)


@dataclass(frozen=True)
class Loudness:
    """What the first pass measured of the joined sound (EBU R128: LUFS, LU, dBTP)."""

    input_i: float
    input_tp: float
    input_lra: float
    input_thresh: float


@dataclass(frozen=True)
class Source:
    """A clip to put in the cut: a generated take, or footage (always normalized)."""

    name: str
    path: Path
    trim: tuple[float, float] | None = None
    footage: bool = False
    caption: str | None = None


@dataclass(frozen=True)
class CutClip:
    """One clip in the cut, with its real measured durations."""

    source: Source
    info: media.MediaInfo
    start: float  # where the clip starts in the cut
    duration: float  # its video duration, and so its slot

    @property
    def path(self) -> Path:
        """The clip file."""
        return self.source.path

    @property
    def trim(self) -> tuple[float, float] | None:
        """The part of the clip used, if not all of it."""
        return self.source.trim

    @property
    def part(self) -> tuple[float, float]:
        """The seconds of the clip's own file the cut uses, from its first frame."""
        if self.trim:
            return self.trim
        start = self.info.video.start if self.info.video else 0.0
        return start, start + self.duration


@dataclass(frozen=True)
class StitchResult:
    """What the stitch made."""

    output: Path
    duration: float
    clips: tuple[CutClip, ...]
    video_copied: bool
    loudness: Loudness | None = None
    side_files: tuple[Path, ...] = ()
    fetched: tuple[str, ...] = ()
    link: str | None = None

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready view."""
        return {
            "output": str(self.output),
            "duration": round(self.duration, 3),
            "video_copied": self.video_copied,
            "loudness": asdict(self.loudness) if self.loudness else None,
            "side_files": [str(p) for p in self.side_files],
            "fetched": list(self.fetched),
            "link": self.link,
            "clips": [
                {
                    "scene": c.source.name,
                    "path": str(c.path),
                    "start": round(c.start, 4),
                    "duration": round(c.duration, 4),
                }
                for c in self.clips
            ],
        }


def collect(storyboard: Storyboard, workdir: Path, state: RunState) -> list[Source]:
    """Every scene's clip in order; StitchError listing the scenes that are not done."""
    found: list[Source] = []
    missing: list[str] = []
    for scene in storyboard.scenes:
        clip = scene_clip(scene, state, workdir)
        if clip is None:
            missing.append(f"{scene.number} ({scene.id})")
        else:
            found.append(
                Source(
                    scene.id, clip, scene.trim, footage=not scene.generated, caption=scene.speech
                )
            )
    if missing:
        shown = ", ".join(missing[:8]) + (
            f" and {len(missing) - 8} more" if len(missing) > 8 else ""
        )
        raise StitchError(
            f"{len(missing)} of {len(storyboard.scenes)} scenes are not done yet: {shown}: "
            f"run 'f1gen generate {storyboard.path}' first"
        )
    return found


def layout(sources: list[Source], *, crossfade: float = 0.0) -> list[CutClip]:
    """Probe every source and give it its slot: each starts where the earlier ones end
    (less the crossfade, when clips overlap in transitions)."""
    laid: list[CutClip] = []
    start = 0.0
    for source in sources:
        try:
            info = media.probe(source.path)
        except BadInputError as exc:
            raise StitchError(f"{source.name}: {source.path}: {exc.message}") from None
        if info.video is None:
            raise StitchError(f"{source.name}: {source.path}: has no video stream")
        trim = source.trim
        duration = (trim[1] - trim[0]) if trim else info.video.duration
        if crossfade and duration <= 2 * crossfade:
            raise StitchError(
                f"{source.name}: {duration:.2f} s is too short for a {crossfade} s crossfade"
            )
        laid.append(CutClip(source, info, start, duration))
        start += duration - crossfade
    return laid


def uniform(clips: list[CutClip]) -> bool:
    """True when every clip is an untrimmed generated take with one and the same H.264 shape,
    so that the concat demuxer can read them as one stream."""
    shapes = set()
    for clip in clips:
        video = clip.info.video
        assert video is not None
        if clip.trim or clip.source.footage or video.codec != "h264":
            return False
        shapes.add((video.width, video.height, video.fps, video.pix_fmt, video.profile))
    return len(shapes) == 1


def can_copy_video(clips: list[CutClip], options: CutOptions) -> bool:
    """True when the picture can be stream-copied: uniform takes, nothing drawn on them."""
    return not (options.burn_captions or options.crossfade or options.preview) and uniform(clips)


def direct(clip: CutClip) -> bool:
    """True when the joined picture can decode the clip as it is: an untrimmed take, H.264 in
    the cut's own shape. Anything else is normalized on its own first."""
    video = clip.info.video
    assert video is not None
    return (
        not clip.trim
        and not clip.source.footage
        and video.codec == "h264"
        and (video.width, video.height, video.pix_fmt) == (WIDTH, HEIGHT, "yuv420p")
        and video.fps == FPS
    )


def normalize_chain(clip: CutClip) -> str:
    """Filters that make a clip's picture 576x896, 24 fps, yuv420p, starting at its first frame."""
    trim = f"trim=start={clip.trim[0]:.6f}:end={clip.trim[1]:.6f}," if clip.trim else ""
    return (
        f"{trim}setpts=PTS-STARTPTS,"
        f"scale={WIDTH}:{HEIGHT}:force_original_aspect_ratio=decrease,"
        f"pad={WIDTH}:{HEIGHT}:(ow-iw)/2:(oh-ih)/2,setsar=1,fps={FPS},format=yuv420p,"
        f"trim=duration={clip.duration:.6f}"
    )


def normalize_command(clip: CutClip, output: Path) -> list[str]:
    """One clip's picture alone, normalized, nearly lossless: memory is one clip's, however many
    clips the cut has."""
    return ["-i", str(clip.path), "-map", "0:v:0", "-vf", normalize_chain(clip), "-an",
            "-c:v", "libx264", "-preset", "veryfast", "-crf", "12", "-pix_fmt", "yuv420p",
            "-f", "mp4", str(output)]  # fmt: skip


def remux_command(clip: CutClip, output: Path) -> list[str]:
    """A take's picture copied alone, for a file whose video is not its first stream."""
    return ["-i", str(clip.path), "-map", "0:v:0", "-c", "copy", "-f", "mp4", str(output)]


@dataclass(frozen=True)
class Piece:
    """One entry of an ffconcat list: a file, read from inpoint for duration seconds."""

    path: Path
    inpoint: float
    duration: float
    outpoint: float | None = None


def ffconcat(pieces: list[Piece]) -> str:
    """An ffconcat list (paths absolute: ffconcat resolves them from the list's folder)."""
    lines = ["ffconcat version 1.0"]
    for piece in pieces:
        quoted = str(piece.path.resolve()).replace("'", "'\\''")
        lines += [f"file '{quoted}'", f"inpoint {piece.inpoint:.6f}"]
        if piece.outpoint is not None:
            lines.append(f"outpoint {piece.outpoint:.6f}")
        lines.append(f"duration {piece.duration:.6f}")
    return "\n".join(lines) + "\n"


def transition_frames(clips: list[CutClip], crossfade: float) -> tuple[list[int], list[int]]:
    """Where each clip starts in the joined picture (frames, the end appended) and how many
    frames each transition lasts, rounded so that every clip starts within half a frame of its
    place on the shortened timeline: nothing drifts, however many transitions."""
    starts, at = [], 0.0
    for clip in clips:
        starts.append(round(at * FPS))
        at += clip.duration
    starts.append(round(at * FPS))
    cut = [starts[k] - round(clip.start * FPS) for k, clip in enumerate(clips)]
    return starts, [b - a for a, b in itertools.pairwise(cut)]


def crossfade_chains(starts: list[int], lengths: list[int], *, joined: int, heads: int) -> str:
    """The joined picture with every transition, from two decoders whatever the clip count.

    Input joined holds every clip end to end; input heads the first frames of every clip but the
    first. The heads leave the joined picture, and each is laid, fading in, over the end of the
    clip before it.
    """
    dropped = "+".join(
        f"between(n,{starts[k + 1]},{starts[k + 1] + n - 1})" for k, n in enumerate(lengths)
    )
    chains = [f"[{joined}:v:0]fps={FPS},select='not({dropped})',setpts=N/({FPS}*TB)[bodies]"]
    offsets = [0, *itertools.accumulate(lengths)]  # heads before each transition
    tails = [starts[k + 1] - n - offsets[k] for k, n in enumerate(lengths)]
    windows = [
        f"between(t,{(tail - 0.5) / FPS:.6f},{(tail + n - 0.5) / FPS:.6f})"
        for tail, n in zip(tails, lengths, strict=True)
    ]
    # the first n frames of each head piece (which has n + 1: see head_pieces)
    picked = "+".join(
        f"between(t,{(offsets[k] + k - 0.5) / FPS:.6f},{(offsets[k] + k + n - 0.5) / FPS:.6f})"
        for k, n in enumerate(lengths)
    )
    shift = str(tails[0] - offsets[0]) + "".join(
        f"+({(tails[k] - offsets[k]) - (tails[k - 1] - offsets[k - 1])})*gte(N,{offsets[k]})"
        for k in range(1, len(lengths))
    )
    fades = "".join(
        f",fade=t=in:st={tail / FPS:.6f}:d={n / FPS:.6f}:alpha=1:enable='{window}'"
        for tail, n, window in zip(tails, lengths, windows, strict=True)
        if n  # a crossfade shorter than half a frame has nothing to fade
    )
    chains.append(
        f"[{heads}:v:0]select='{picked}',setpts='(N+{shift})/({FPS}*TB)',format=yuva420p{fades}[heads]"
    )
    chains.append(
        f"[bodies][heads]overlay=eof_action=pass:repeatlast=0:enable='{'+'.join(windows)}'[vjoined]"
    )
    return ";".join(chains)


def head_pieces(videos: list[Piece], lengths: list[int]) -> list[Piece]:
    """The first frames of every clip but the first, one frame more than each transition needs
    (so that pieces start on whole frames), for the heads input of crossfade_chains."""
    return [
        Piece(video.path, video.inpoint, (n + 1) / FPS, video.inpoint + (n + 0.5) / FPS)
        for video, n in zip(videos[1:], lengths, strict=True)
    ]


SAMPLE_BYTES = 2 * media.PCM_BYTES  # one stereo float sample
PCM_INPUT = ["-f", "f32le", "-ar", str(AUDIO_RATE), "-ac", "2"]  # -ac: older ffmpegs too


def track_spans(clips: list[CutClip]) -> list[tuple[int, int]]:
    """Each clip's sound in samples: its own length, and how much it shares with the clip before
    (a crossfade). Rounded from the timeline, so the sound never drifts from the picture."""
    spans = []
    previous_end = 0
    for clip in clips:
        start = round(clip.start * AUDIO_RATE)
        end = round((clip.start + clip.duration) * AUDIO_RATE)
        spans.append((end - start, previous_end - start))
        previous_end = end
    return spans


def audio_chain(clip: CutClip, samples: int, options: CutOptions) -> str:
    """Filters that make a clip's sound exactly its slot (samples long), 48 kHz float stereo."""
    length = samples / AUDIO_RATE
    fade = options.fade_ms / 1000
    # Short fades at each join take the click out of clips' invented ambience, not the sync.
    fades = (
        f",afade=t=in:st=0:d={fade:.3f},afade=t=out:st={length - fade:.6f}:d={fade:.3f}"
        if fade and not options.crossfade
        else ""
    )
    skip = f"atrim=start={clip.trim[0]:.6f},asetpts=PTS-STARTPTS," if clip.trim else ""
    # async with first_pts=0 lines the sound up with the picture's first frame (silence where it
    # starts late); apad + atrim makes it exactly as long as the picture.
    return (
        f"aresample={AUDIO_RATE}:async=1:first_pts=0,{skip}"
        f"aformat=sample_fmts={media.PCM_FORMAT}:sample_rates={AUDIO_RATE}:channel_layouts=stereo,"
        f"apad,atrim=end_sample={samples},asetpts=N/SR/TB{fades}"
    )


def _clip_sound(clip: CutClip, samples: int, options: CutOptions) -> Iterator[bytes]:
    if clip.info.audio is None:
        for done in range(0, samples, AUDIO_RATE):
            yield bytes(min(AUDIO_RATE, samples - done) * SAMPLE_BYTES)
        return
    video = clip.info.video
    # An untrimmed clip's time starts at its first frame; a trim counts from the file's start.
    origin = None if clip.trim or video is None else video.start
    yield from media.audio_pcm(clip.path, audio_chain(clip, samples, options), origin=origin)


class Sink(Protocol):
    """Where raw sound goes: ffmpeg's stdin, a file, or both."""

    def write(self, data: bytes | bytearray, /) -> object:
        """Take data."""
        ...


def write_track(clips: list[CutClip], options: CutOptions, sink: Sink) -> None:
    """The cut's whole sound as raw 48 kHz float stereo, one clip decoded at a time."""
    spans = track_spans(clips)
    tail = b""  # the end of the clip before, kept back for its crossfade
    for index, (clip, (samples, shared)) in enumerate(zip(clips, spans, strict=True)):
        keep = spans[index + 1][1] * SAMPLE_BYTES if index + 1 < len(spans) else 0
        head = shared * SAMPLE_BYTES
        pending = bytearray()
        for chunk in _clip_sound(clip, samples, options):
            pending += chunk
            if head:
                if len(pending) < head:
                    continue
                mixed = media.crossfade_pcm(
                    tail, bytes(pending[:head]), rate=AUDIO_RATE, spec="c1=tri:c2=tri"
                )
                sink.write(mixed)
                del pending[:head]
                head = 0
            if len(pending) > keep:
                sink.write(pending[: len(pending) - keep])
                del pending[: len(pending) - keep]
        tail = bytes(pending)


def measure_command() -> list[str]:
    """The first loudness pass: EBU R128 loudness, range and true peak of the sound on stdin."""
    return ["-loglevel", "info", *PCM_INPUT, "-i", "pipe:0",
            "-af", "ebur128=peak=true:framelog=quiet", "-f", "null", "-"]  # fmt: skip


def parse_loudness(stderr: str) -> Loudness | None:
    """What ebur128's summary says; None for a silent cut (nothing to normalize)."""
    summary = stderr[stderr.rfind("Summary:") :]
    found = {
        key: re.search(pattern, summary, re.DOTALL)
        for key, pattern in (
            ("input_i", r"I:\s+(-?[\d.]+|-?inf) LUFS"),
            ("input_thresh", r"I:.*?Threshold:\s+(-?[\d.]+|-?inf) LUFS"),
            ("input_lra", r"LRA:\s+(-?[\d.]+|-?inf) LU\b"),
            ("input_tp", r"Peak:\s+(-?[\d.]+|-?inf) dBFS"),
        )
    }
    if not all(found.values()):
        raise StitchError(
            "stitch: ffmpeg's loudness measurement could not be read: try --no-loudnorm"
        )
    values = {key: float(match.group(1)) for key, match in found.items() if match}
    if values["input_i"] <= -70 or any(math.isinf(v) or math.isnan(v) for v in values.values()):
        return None  # silence stays silence
    return Loudness(**values)


def loudness_filter(options: CutOptions, measured: Loudness | None) -> str | None:
    """The second loudness pass: one gain when that meets the target, as loudnorm's linear mode
    would; loudnorm's dynamic mode otherwise (a range or a peak too wide for one gain)."""
    if measured is None:
        return None
    ceiling = options.true_peak - 0.5  # the AAC encode can add a few tenths of a dB of true peak
    gain = options.loudness - measured.input_i
    if measured.input_tp + gain <= ceiling and measured.input_lra <= LOUDNESS_RANGE:
        return f"volume={gain:.2f}dB"
    return (
        f"loudnorm=I={options.loudness}:TP={ceiling}:LRA={LOUDNESS_RANGE}"
        f":measured_I={measured.input_i}:measured_TP={measured.input_tp}"
        f":measured_LRA={measured.input_lra}:measured_thresh={measured.input_thresh}"
        f":linear=true:print_format=none,aresample={AUDIO_RATE}"
    )


def build_command(
    clips: list[CutClip],
    *,
    output: Path,
    options: CutOptions,
    pictures: Path,
    heads: Path | None,
    captions: Path | None,
    sound: Path | None,
    measured: Loudness | None,
    copy: bool,
) -> list[str]:
    """The ffmpeg arguments for the cut: sound from stdin (or the file sound), raw; the picture
    from the ffconcat list pictures (and heads, for transitions), copied or decoded once.

    Every input starts at zero by construction, so timestamps are kept as they are (-copyts):
    nothing can shift the picture against the sound.
    """
    args = ["-copyts", *PCM_INPUT, "-i", str(sound or "pipe:0")]
    args += ["-f", "concat", "-safe", "0", "-i", str(pictures)]
    chains: list[str] = []
    gain = loudness_filter(options, measured)
    audio_map = "0:a"
    if gain:
        chains.append(f"[0:a]{gain}[aout]")
        audio_map = "[aout]"
    if copy:
        video_map, video_codec = "1:v:0", ["-c:v", "copy"]
    else:
        if heads is not None:
            args += ["-f", "concat", "-safe", "0", "-i", str(heads)]
            starts, lengths = transition_frames(clips, options.crossfade)
            chains.append(crossfade_chains(starts, lengths, joined=1, heads=2))
        else:
            chains.append(f"[1:v:0]fps={FPS}[vjoined]")
        joined_video = "vjoined"
        if captions is not None:
            # One input carries every caption image, each held for its cue: decoded in order,
            # so memory stays flat however many scenes there are.
            track = 3 if heads is not None else 2
            args += ["-f", "concat", "-safe", "0", "-i", str(captions)]
            chains.append(
                f"[{track}:v]setpts=PTS-STARTPTS[captions];"
                f"[{joined_video}][captions]overlay=format=auto:eof_action=pass[captioned]"
            )
            joined_video = "captioned"
        scale = f",scale={options.size[0]}:{options.size[1]}" if options.preview else ""
        chains.append(f"[{joined_video}]format=yuv420p{scale}[vout]")
        video_map = "[vout]"
        preset, crf = ("ultrafast", "30") if options.preview else ("veryfast", "20")
        video_codec = ["-c:v", "libx264", "-preset", preset, "-crf", crf]
        video_codec += ["-pix_fmt", "yuv420p", "-r", str(FPS)]
    if chains:
        args += ["-filter_complex", ";".join(chains)]
    args += ["-map", video_map, "-map", audio_map]
    # The fast AAC coder is about 3x quicker than the default twoloop, and transparent at 192k.
    args += [*video_codec, "-c:a", "aac", "-aac_coder", "fast", "-b:a", AUDIO_BITRATE]
    args += ["-ar", str(AUDIO_RATE), "-ac", "2", "-movflags", "+faststart"]
    args += ["-f", "mp4", str(output)]
    return args


def _ffconcat_entry(path: Path, seconds: float) -> list[str]:
    """Lines naming path (absolute: ffconcat resolves from the list's folder) for seconds."""
    quoted = str(path.resolve()).replace("'", "'\\''")
    return [f"file '{quoted}'", f"duration {seconds:.6f}"]


def cues(clips: list[CutClip], options: CutOptions) -> list[Cue]:
    """One caption per clip with speech, shown for the clip's slot (halfway through transitions)."""
    half = options.crossfade / 2
    found = []
    for n, clip in enumerate(clips):
        if clip.source.caption:
            start = clip.start + (half if n else 0.0)
            end = clip.start + clip.duration - (half if n < len(clips) - 1 else 0.0)
            found.append(Cue(start, end, clip.source.caption))
    return found


def caption_track(
    clips: list[CutClip], options: CutOptions, *, scratch: Path, tag: str, made: list[Path]
) -> Path | None:
    """An ffconcat list of caption images, each for its cue (a blank one between), or None."""
    from PIL import Image

    timeline = cues(clips, options)
    if not timeline:
        return None
    blank = scratch / f".partial-caption-{tag}-blank.png"
    Image.new("RGBA", (WIDTH, HEIGHT), (0, 0, 0, 0)).save(blank)
    made.append(blank)
    lines = ["ffconcat version 1.0"]
    now = 0.0
    for n, cue in enumerate(timeline):
        if cue.start > now:
            lines += _ffconcat_entry(blank, cue.start - now)
        art = scratch / f".partial-caption-{tag}-{n:03d}.png"
        made.append(draw_caption(cue.text, art, size=(WIDTH, HEIGHT)))
        lines += _ffconcat_entry(art, cue.end - cue.start)
        now = cue.end
    lines += _ffconcat_entry(blank, 1.0)  # the concat demuxer needs a last frame to end on
    listing = scratch / f".partial-captions-{tag}.txt"
    listing.write_text("\n".join(lines) + "\n", encoding="utf-8")
    made.append(listing)
    return listing


def _pictures(
    clips: list[CutClip],
    *,
    copy: bool,
    scratch: Path,
    tag: str,
    ffmpeg: str | None,
    made: list[Path],
) -> list[Piece]:
    """Each clip's picture as the joined input reads it: the take itself when it can, else a
    normalized (or, for a copy, remuxed) file of its own, made one clip at a time."""
    pieces = []
    for n, clip in enumerate(clips):
        video = clip.info.video
        assert video is not None
        if (copy or direct(clip)) and video.index == 0:
            pieces.append(Piece(clip.path, video.start, clip.duration))
            continue
        own = scratch / f".partial-picture-{tag}-{n:03d}.mp4"
        made.append(own)
        command = remux_command(clip, own) if copy or direct(clip) else normalize_command(clip, own)
        media.run_ffmpeg(command, ffmpeg=ffmpeg, what=f"stitch: {clip.source.name}")
        made_video = media.probe(own).video
        pieces.append(Piece(own, made_video.start if made_video else 0.0, clip.duration))
    return pieces


def join(
    sources: list[Source],
    *,
    output: Path,
    scratch: Path,
    ffmpeg: str | None = None,
    options: CutOptions | None = None,
) -> StitchResult:
    """Join sources into output, in order, keeping each one's sound on its picture.

    One ffmpeg run makes the cut (two with loudness: the first only measures). The sound is
    decoded here one clip at a time and handed to ffmpeg raw; the picture is read by one
    decoder (or none, when copied): memory does not grow with the number of clips.
    """
    options = options or CutOptions()
    clips = layout(sources, crossfade=options.crossfade)
    for folder in (output.parent, scratch):
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WriteError(
                f"{folder}: cannot write ({exc.strerror}): fix its permissions or free disk space"
            ) from None
    tag = f"{os.getpid()}"
    partial = output.with_name(f".partial-{tag}-{output.name}")
    copied = can_copy_video(clips, options)
    made: list[Path] = []
    measured = None
    sound: Path | None = None
    try:
        videos = _pictures(clips, copy=copied, scratch=scratch, tag=tag, ffmpeg=ffmpeg, made=made)
        pictures = scratch / f".partial-concat-{tag}.txt"
        made.append(pictures)
        pictures.write_text(ffconcat(videos), encoding="utf-8")
        heads = None
        if options.crossfade and len(clips) > 1:
            heads = scratch / f".partial-heads-{tag}.txt"
            made.append(heads)
            _, lengths = transition_frames(clips, options.crossfade)
            heads.write_text(ffconcat(head_pieces(videos, lengths)), encoding="utf-8")
        captions = (
            caption_track(clips, options, scratch=scratch, tag=tag, made=made)
            if options.burn_captions
            else None
        )
        if options.loudnorm:
            sound = scratch / f".partial-sound-{tag}.f32"
            made.append(sound)
            measured = _measure(clips, options, sound=sound, ffmpeg=ffmpeg)
        args = build_command(
            clips,
            output=partial,
            options=options,
            pictures=pictures,
            heads=heads,
            captions=captions,
            sound=sound,
            measured=measured,
            copy=copied,
        )
        feed = None if sound else lambda sink: write_track(clips, options, sink)
        media.run_ffmpeg(args, ffmpeg=ffmpeg, what="stitch", feed=feed)
        move_durably(partial, output)
    except MediaError as exc:
        raise StitchError(exc.message) from None
    finally:
        for leftover in (partial, *made):
            leftover.unlink(missing_ok=True)
    total = clips[-1].start + clips[-1].duration if clips else 0.0
    return StitchResult(
        output=output, duration=total, clips=tuple(clips), video_copied=copied, loudness=measured
    )


@dataclass(frozen=True)
class Outputs:
    """Where a stitch writes: the cut and its side files (named after the cut when -o is given)."""

    cut: Path
    srt: Path
    vtt: Path
    sheet: Path
    poster: Path
    manifest: Path

    @property
    def side(self) -> tuple[Path, ...]:
        """The side files, in the order they are written."""
        return (self.srt, self.vtt, self.sheet, self.poster, self.manifest)


def outputs(workdir: Path, output: Path | None = None, *, preview: bool = False) -> Outputs:
    """The cut's path and its side files' paths.

    The default cut keeps the default names (final.srt, contact-sheet.png, manifest.json...);
    a cut named with -o gets side files named after it (cut.srt, cut.manifest.json...), so that
    it never replaces another cut's files in the same folder.
    """
    default = workdir / ("final-preview.mp4" if preview else "final.mp4")
    cut = output if output is not None else default
    base = cut.parent / (cut.stem if cut.suffix.lower() == ".mp4" else cut.name)
    own = output is not None and os.path.abspath(output) != os.path.abspath(default)
    named = {
        name: base.with_name(f"{base.name}.{name}") if own else cut.parent / name
        for name in ("contact-sheet.png", "poster.jpg", "manifest.json")
    }
    return Outputs(
        cut=cut,
        srt=base.with_name(f"{base.name}.srt"),
        vtt=base.with_name(f"{base.name}.vtt"),
        sheet=named["contact-sheet.png"],
        poster=named["poster.jpg"],
        manifest=named["manifest.json"],
    )


def _protected(storyboard: Storyboard, workdir: Path) -> dict[Path, str]:
    """What a stitch must never write over: the storyboard, its media, the run's state."""
    found = {storyboard.path.resolve(): "the storyboard"}
    for scene in storyboard.scenes:
        if scene.image is not None:
            found.setdefault(scene.image.resolve(), f"the image of {scene.label}")
        if scene.footage is not None:
            found.setdefault(scene.footage.resolve(), f"the footage of {scene.label}")
    found[(workdir / "state.json").resolve()] = "the run's state file"
    return found


def check_outputs(storyboard: Storyboard, workdir: Path, paths: Outputs, *, given: bool) -> None:
    """BadInputError, before anything is written, when an output would replace the user's work."""
    flag = f"-o {paths.cut}" if given else str(paths.cut)
    if paths.cut.is_dir():
        example = paths.cut / "cut.mp4"
        raise BadInputError(f"{flag}: is a folder: name the cut's file, e.g. -o {example}")
    protected = _protected(storyboard, workdir)
    clips = (workdir / "clips").resolve()
    for path in (paths.cut, *paths.side):
        resolved = path.resolve()
        what = protected.get(resolved)
        if what is None and (resolved == clips or clips in resolved.parents):
            what = f"a file in {workdir / 'clips'}, where the accepted takes live"
        if what is None:
            continue
        whose = "it" if path == paths.cut else f"its side file {path}"
        raise BadInputError(
            f"{flag}: {whose} would replace {what}: write the cut elsewhere, "
            f"e.g. -o {workdir / 'cut.mp4'}"
        )
    if paths.cut.suffix.lower() != ".mp4":
        raise BadInputError(f"{flag}: the cut is an MP4 video: give a name ending in .mp4")


def _measure(
    clips: list[CutClip], options: CutOptions, *, sound: Path, ffmpeg: str | None
) -> Loudness | None:
    """The first loudness pass; the sound it measured is kept in the file sound for the second,
    so that nothing is decoded twice."""

    def feed(sink: IO[bytes]) -> None:
        with sound.open("wb") as kept:
            write_track(clips, options, _Tee(sink, kept))

    stderr = media.run_ffmpeg(measure_command(), ffmpeg=ffmpeg, what="stitch: loudness", feed=feed)
    return parse_loudness(stderr)


class _Tee:
    """Writes to two files at once."""

    def __init__(self, first: IO[bytes], second: IO[bytes]) -> None:
        self.first, self.second = first, second

    def write(self, data: bytes | bytearray) -> int:
        self.second.write(data)
        return self.first.write(data)


def stitch(
    storyboard: Storyboard,
    *,
    workdir: Path,
    output: Path | None = None,
    ffmpeg: str | None = None,
    storage: Storage | None = None,
    options: CutOptions | None = None,
    state: RunState | None = None,
) -> StitchResult:
    """Make the final cut of a storyboard whose scenes are all done, with its side files.

    Beside the cut: captions (.srt, .vtt), a contact sheet, a poster frame and a manifest. With
    storage, clips missing here are fetched from the bucket first, and everything is uploaded.
    Nothing the user made (storyboard, images, footage, accepted takes, state) is ever replaced.
    state: the run's state when the caller holds it (a run that just ended), else it is read.
    """
    options = options or CutOptions()
    paths = outputs(workdir, output, preview=options.preview)
    check_outputs(storyboard, workdir, paths, given=output is not None)
    fetched = fetch_missing(storyboard, workdir=workdir, storage=storage) if storage else []
    if state is None or fetched:
        state = StateStore(workdir).load(storyboard=str(storyboard.path), title=storyboard.title)
    sources = collect(storyboard, workdir, state)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="f1gen-art") as pool:
        # The review art comes from the clips, not the cut: it is drawn while ffmpeg works.
        drawing = None if options.preview else pool.submit(lambda: review_frames(layout(sources)))
        result = join(
            sources, output=paths.cut, scratch=workdir / "tmp", ffmpeg=ffmpeg, options=options
        )
    frames = drawing.result() if drawing else None
    side = write_side_files(
        storyboard, result, state=state, options=options, paths=paths, frames=frames,
        workdir=workdir,
    )  # fmt: skip
    result = replace(result, side_files=tuple(side), fetched=tuple(fetched))
    if storage is None:
        return result
    uploaded = storage.upload(result.output, result.output.name)
    for path in side:
        storage.upload(path, path.name)
    return replace(result, link=storage.link(uploaded.key))


@dataclass(frozen=True)
class ReviewFrames:
    """The review art's pictures: every clip's key frame, small, and the first one full size."""

    thumbnails: list[tuple[str, Image.Image]]
    poster: Image.Image


def review_frames(clips: Sequence[CutClip]) -> ReviewFrames:
    """Each clip's key frame (media.frame_at: the cheap one), labelled with its number and id."""
    from .sheets import THUMB

    first = media.frame_at(clips[0].path, clips[0].part)
    thumbnails = [("01 " + clips[0].source.name, first)]
    thumbnails += [
        (f"{n:02d} {c.source.name}", media.frame_at(c.path, c.part, fit=THUMB))
        for n, c in enumerate(clips[1:], start=2)
    ]
    return ReviewFrames(thumbnails, first)


def write_side_files(
    storyboard: Storyboard,
    result: StitchResult,
    *,
    state: RunState,
    options: CutOptions,
    paths: Outputs,
    frames: ReviewFrames | None = None,
    workdir: Path | None = None,
) -> list[Path]:
    """Captions, contact sheet, poster and manifest beside the cut, each written atomically
    (frames: the review art's pictures, when already drawn; workdir: where the takes' checks
    are kept)."""
    from .sheets import contact_sheet, poster

    timeline = cues(list(result.clips), options)
    write_atomic(paths.srt, to_srt(timeline).encode("utf-8"))
    write_atomic(paths.vtt, to_vtt(timeline).encode("utf-8"))
    written = [paths.srt, paths.vtt]
    if options.preview:  # a proof: the review art and the manifest describe the real cut
        return written
    frames = frames or review_frames(result.clips)
    contact_sheet(frames.thumbnails, paths.sheet)
    poster(frames.poster, paths.poster)
    write_manifest(storyboard, result, state=state, path=paths.manifest, workdir=workdir)
    return [*written, paths.sheet, paths.poster, paths.manifest]


def write_manifest(
    storyboard: Storyboard,
    result: StitchResult,
    *,
    state: RunState,
    path: Path,
    workdir: Path | None = None,
) -> None:
    """What the cut is made of: every scene's fingerprint, prompt, take, durations, checksums,
    and every take of it with its seed, its checks (each with its number and reason, when the
    work folder keeps them) and which one is the pick, and why."""
    from .checks.cache import CheckCache

    cache = CheckCache(workdir) if workdir is not None else None
    scenes = []
    for clip, scene in zip(result.clips, storyboard.scenes, strict=True):
        entry = state.scenes.get(scene.id) if scene.generated else None
        takes = []
        for take in entry.takes if entry else []:
            found = None
            if cache is not None and take.checks is not None and take.sha256 is not None:
                key = CheckCache.key_of(take.sha256, line=scene.speech, prompt=build_prompt(scene))
                found = cache.get(key)
            takes.append(
                {
                    "name": take.name,
                    "seed": take.seed,
                    "picked": take.clip == entry.clip if entry else False,
                    "rejected": take.rejected,
                    "checks": take.checks,
                    "results": [asdict(c) for c in found.checks] if found else None,
                }
            )
        scenes.append(
            {
                "number": scene.number,
                "id": scene.id,
                "kind": "generated" if scene.generated else "footage",
                "prompt": build_prompt(scene) if scene.generated else None,
                "fingerprint": entry.fingerprint if entry and scene.generated else None,
                "backend": entry.backend if entry and scene.generated else None,
                "take": clip.path.name,
                "sha256": file_digest(clip.path),
                "start": round(clip.start, 4),
                "duration": round(clip.duration, 4),
                "video_seconds": round(clip.info.video.duration, 4) if clip.info.video else None,
                "audio_seconds": round(clip.info.audio.duration, 4) if clip.info.audio else None,
                "takes": takes,
                "picked_by": ("hand" if entry.pick else "checks") if entry else None,
                "pick_reason": entry.pick_reason if entry else None,
            }
        )
    manifest = {
        "title": storyboard.title,
        "storyboard": str(storyboard.path),
        "tool": f"f1gen {__version__}",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "output": {
            "file": result.output.name,
            "sha256": file_digest(result.output),
            "duration": round(result.duration, 4),
            "video_copied": result.video_copied,
        },
        "loudness_measured": asdict(result.loudness) if result.loudness else None,
        "scenes": scenes,
    }
    write_atomic(path, (json.dumps(manifest, indent=2) + "\n").encode("utf-8"))
