"""The cut: clips joined in order with sound and picture in sync at every boundary.

Why not `ffmpeg -f concat -c copy`: each AAC track is a little shorter than its video (1024-sample
frames) and carries encoder priming, so joined as they are the sound drifts by seconds over 24
clips. Here the picture is stream-copied when every clip shares its parameters (otherwise encoded
once, in the shape of the backend that made the clips), and the sound is rebuilt as one
continuous track in which each clip's audio is aligned to its first video frame and padded or
trimmed to exactly its video's duration.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import math
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Protocol

from .. import media
from ..backends import spec_of
from ..captions import Cue, draw_caption
from ..errors import BadInputError, MediaError, StitchError, WriteError
from ..files import move_durably
from .ffargs import (
    AUDIO_RATE,
    SAMPLE_BYTES,
    Fill,
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
    head_pieces,
    measure_command,
    normalize_command,
    parse_blocks,
    parse_integrated,
    parse_loudness,
    probe_command,
    remux_command,
    track_spans,
    transition_frames,
)
from .frames import PORTRAIT, SafeZone
from .mix import (
    ClipSound,
    Layer,
    Layered,
    Seam,
    block_powers,
    fill,
    floor_envelope,
    floor_gains,
    floor_of,
    quietest,
    seamed,
    valid_part,
    widen,
)

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

# PIL (captions) loads only when a cut is drawn on.


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
    frame: tuple[int, int] | None = None  # the cut's frame size (None: the clips' own)
    fill: Fill = "blur"  # how a clip of another shape fills the frame
    safe: SafeZone = PORTRAIT  # where burned captions may go
    word_captions: bool = False  # captions word by word, as spoken
    seams: bool = True  # smooth joins and one room tone (off: the plain join, faded)
    music: bool = True  # the storyboard's music, if it has any
    ambience: bool = True  # the storyboard's ambience beds, if it has any


@dataclass(frozen=True)
class Source:
    """A clip to put in the cut: a generated take, or footage (always normalized)."""

    name: str
    path: Path
    trim: tuple[float, float] | None = None
    footage: bool = False
    caption: str | None = None
    captioned: bool = False  # the clip's picture carries its caption already (the animatic's)
    # Where speech is (seconds of the file's sound track, from the take checks' VAD), if known.
    speech: tuple[tuple[float, float], ...] | None = None
    # Its background floor (dBFS; None: digital silence), as an earlier stitch measured it.
    floor: float | None = None
    floor_known: bool = False


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
    loudness: Loudness | None = None  # the joined sound, measured before leveling
    leveling: Leveling | None = None  # what the second pass did to it
    made_loudness: Loudness | None = None  # the cut's sound as leveled (before its AAC encode)
    side_files: tuple[Path, ...] = ()
    fetched: tuple[str, ...] = ()
    link: str | None = None
    frame: tuple[int, int] | None = None  # the cut's picture size
    notes: tuple[str, ...] = ()  # what the stitch decided on its way (a lost pick re-picked)
    mix: MixReport | None = None  # what the mix did: seams, floor gains, music and bed

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready view."""
        return {
            "output": str(self.output),
            "duration": round(self.duration, 3),
            "video_copied": self.video_copied,
            "frame": f"{self.frame[0]}x{self.frame[1]}" if self.frame else None,
            "loudness": asdict(self.loudness) if self.loudness else None,
            "leveling": asdict(self.leveling) if self.leveling else None,
            "loudness_made": asdict(self.made_loudness) if self.made_loudness else None,
            "side_files": [str(p) for p in self.side_files],
            "fetched": list(self.fetched),
            "link": self.link,
            "notes": list(self.notes),
            "mix": self.mix.as_dict() if self.mix else None,
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


def default_shape() -> Shape:
    """The shape of the default backend's clips: a cut of footage alone takes it."""
    return Shape.of(spec_of(None))


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


def own_shape(clips: list[CutClip], spec: Shape) -> Shape:
    """The clips' own shape: the first generated clip's size at spec's rate (a model makes
    clips of several sizes, its spec naming one); spec's for a cut of footage alone."""
    for clip in clips:
        video = clip.info.video
        if (
            not clip.source.footage
            and video is not None
            and not (video.width % 2 or video.height % 2)
        ):
            return Shape(video.width, video.height, spec.fps)
    return spec


def framed(shape: Shape, options: CutOptions) -> Shape:
    """The cut's picture: the clips' shape, in the frame options ask for."""
    return Shape(*options.frame, shape.fps) if options.frame else shape


def can_copy_video(clips: list[CutClip], options: CutOptions, shape: Shape | None = None) -> bool:
    """True when the picture can be stream-copied: uniform takes the cut's size (shape's, when
    given), nothing drawn on them."""
    if options.burn_captions or options.crossfade or options.preview or not uniform(clips):
        return False
    video = clips[0].info.video if clips else None
    return shape is None or video is None or (video.width, video.height) == shape.size


def direct(clip: CutClip, shape: Shape, *, any_size: bool = False) -> bool:
    """True when the joined picture can decode the clip as it is: an untrimmed take, H.264
    yuv420p at the cut's rate, in the cut's own size (or any size, which the cut's own encode
    fits into its frame). Anything else is normalized on its own first."""
    video = clip.info.video
    assert video is not None
    return (
        not clip.trim
        and not clip.source.footage
        and video.codec == "h264"
        and video.pix_fmt == "yuv420p"
        and (any_size or (video.width, video.height) == shape.size)
        and video.fps == shape.fps
    )


def _clip_sound(clip: CutClip, samples: int, options: CutOptions) -> Iterator[bytes]:
    if clip.info.audio is None:
        for done in range(0, samples, AUDIO_RATE):
            yield bytes(min(AUDIO_RATE, samples - done) * SAMPLE_BYTES)
        return
    video = clip.info.video
    # An untrimmed clip's time starts at its first frame; a trim counts from the file's start.
    origin = None if clip.trim or video is None else video.start
    # Short fades at each join take the click out of clips' invented ambience, not the sync;
    # a crossfade blends the sound instead.
    fade = 0.0 if options.crossfade else options.fade_ms / 1000
    chain = audio_chain(samples, trim=clip.trim, fade=fade)
    yield from media.audio_pcm(clip.path, chain, origin=origin)


class Sink(Protocol):
    """Where raw sound goes: ffmpeg's stdin, a file, or both."""

    def write(self, data: bytes | bytearray, /) -> object:
        """Take data."""
        ...


@dataclass(frozen=True)
class MixReport:
    """What the mix did: each clip's background floor and the gain that moved it, each join's
    seam, the layers under the cut; and the speech the stitch had to find itself (seconds of
    each clip's own sound track, None where it was known), for the checks' cache."""

    scenes: tuple[str, ...]
    floors: tuple[float | None, ...]
    gains: tuple[float, ...]
    seams: tuple[Seam, ...]
    layers: tuple[Layer, ...]
    found_speech: tuple[tuple[tuple[float, float], ...] | None, ...]

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready view."""
        return {
            "clips": [
                {
                    "scene": name,
                    "floor_dbfs": round(floor, 1) if floor is not None else None,
                    "floor_gain_db": round(gain, 2),
                }
                for name, floor, gain in zip(self.scenes, self.floors, self.gains, strict=True)
            ],
            "seams": [
                {"between": [self.scenes[n], self.scenes[n + 1]], **seam.as_dict()}
                for n, seam in enumerate(self.seams)
            ],
            "layers": [
                {
                    "file": str(layer.path),
                    "volume_db": layer.volume,
                    "duck_db": layer.duck,
                    "start": layer.start,
                    "fade_in": layer.fade_in,
                    "fade_out": layer.fade_out,
                    "from": round(layer.begin, 3),
                    "to": round(layer.end, 3) if layer.end is not None else None,
                    "off": [[round(a, 3), round(b, 3)] for a, b in layer.off],
                }
                for layer in self.layers
            ],
        }


def _origin_shift(clip: CutClip) -> float:
    """Seconds to add to a time of the clip's own sound track to place it in its slot."""
    audio, video = clip.info.audio, clip.info.video
    origin = clip.trim[0] if clip.trim else (video.start if video else 0.0)
    return (audio.start if audio else 0.0) - origin


def _find_speech(
    x: npt.NDArray[np.float32], valid: tuple[int, int]
) -> tuple[tuple[float, float], ...]:
    """Speech in the clip's own sound (slot seconds), by the take checks' VAD at 16 kHz."""
    import numpy as np

    from ..checks.sound import find_speech

    start, end = valid
    mono = x[start:end].mean(axis=1)
    usable = len(mono) // 3 * 3
    mono16k = mono[:usable].reshape(-1, 3).mean(axis=1).astype(np.float32)  # 48 kHz to 16 kHz
    offset = start / AUDIO_RATE
    return tuple((a + offset, b + offset) for a, b in find_speech(mono16k).segments)


def _decoded(
    clips: list[CutClip],
) -> Iterator[tuple[ClipSound, np.ndarray, tuple[tuple[float, float], ...] | None]]:
    """Each clip's sound decoded, exactly its slot, what it lacks filled with its own room tone,
    with what the mix needs to know of it (its offset counts the samples before it), and the
    speech found here (slot seconds) where the clip's was not known. One clip at a time."""
    import numpy as np

    offset = 0
    for clip, (samples, _) in zip(clips, track_spans(clips), strict=True):
        x = np.zeros((samples, 2), np.float32)
        decoded = 0
        if clip.info.audio is not None:
            video = clip.info.video
            origin = None if clip.trim or video is None else video.start
            chain = audio_chain(samples, trim=clip.trim, pad=False)
            for chunk in media.audio_pcm(clip.path, chain, origin=origin):
                part = np.frombuffer(chunk, np.float32).reshape(-1, 2)[: samples - decoded]
                x[decoded : decoded + len(part)] = part
                decoded += len(part)
        lead = round(max(0.0, _origin_shift(clip)) * AUDIO_RATE) if decoded else 0
        power = block_powers(x)
        valid = valid_part(power, lead, decoded)
        known = clip.source.speech
        found = None
        if known is not None:
            shift = _origin_shift(clip)
            seconds = tuple((a + shift, b + shift) for a, b in known)
        elif valid[1] - valid[0] > AUDIO_RATE // 4:
            seconds = found = _find_speech(x, valid)
        else:
            seconds = ()
        speech = widen(seconds, length=samples)
        quiet = quietest(power, speech, valid)
        floor = clip.source.floor if clip.source.floor_known else floor_of(power, speech, valid)
        fill(x, valid, speech, quiet)
        yield ClipSound(clip.source.name, offset, samples, valid, speech, quiet, floor), x, found
        offset += samples


def decode_sounds(
    clips: list[CutClip], scratch: Path
) -> tuple[list[ClipSound], list[tuple[tuple[float, float], ...] | None]]:
    """The mix's first pass, when a floor is not known: each clip's sound decoded once and kept
    raw in scratch, and what the mix needs to know of it; and the speech found here."""
    sounds: list[ClipSound] = []
    found: list[tuple[tuple[float, float], ...] | None] = []
    with scratch.open("wb") as kept:
        for sound, x, heard in _decoded(clips):
            kept.write(x.tobytes())
            sounds.append(sound)
            found.append(heard)
    return sounds, found


def _envelope(sound: ClipSound, x: np.ndarray, gain: float) -> np.ndarray:
    """x with its background moved by its floor gain."""
    import numpy as np

    envelope = floor_envelope(sound, gain, x)
    return x if envelope is None else (x * envelope[:, None]).astype(np.float32)


def _leveled(
    sounds: list[ClipSound], gains: list[float], scratch: Path
) -> Iterator[tuple[ClipSound, np.ndarray]]:
    """Each clip's kept sound, its background moved by its floor gain, one clip at a time."""
    import numpy as np

    for sound, gain in zip(sounds, gains, strict=True):
        x = np.fromfile(
            scratch, np.float32, count=2 * sound.samples, offset=sound.offset * SAMPLE_BYTES
        )
        yield sound, _envelope(sound, x.reshape(-1, 2), gain)


def _streamed(clips: list[CutClip], gains: list[float]) -> Iterator[tuple[ClipSound, np.ndarray]]:
    """Each clip's sound decoded as it goes to ffmpeg (every floor known beforehand), its
    background moved by its floor gain."""
    for (sound, x, _), gain in zip(_decoded(clips), gains, strict=True):
        yield sound, _envelope(sound, x, gain)


@dataclass
class Mixing:
    """The mix of one cut: what its first pass found, and what it is to lay under it."""

    sounds: list[ClipSound] | None  # None: no seams, the plain join
    gains: list[float]
    scratch: Path | None
    layers: Sequence[Layer]
    speech: tuple[tuple[float, float], ...]  # cut seconds, for the ducking
    total: float
    seams: list[Seam]
    seamed: bool = True  # False: the sounds joined as they are (room tone for what they lack)
    found: list[tuple[tuple[float, float], ...] | None] | None = None
    floors: list[float | None] | None = None
    streamed: bool = False  # every floor known: each clip decoded as it goes to ffmpeg

    def report(self, clips: list[CutClip]) -> MixReport:
        """What was done."""
        found = self.found or [None] * len(clips)
        return MixReport(
            scenes=tuple(c.source.name for c in clips),
            floors=tuple(self.floors) if self.floors else (None,) * len(clips),
            gains=tuple(self.gains) if self.gains else (0.0,) * len(clips),
            seams=tuple(self.seams),
            layers=tuple(self.layers),
            found_speech=tuple(
                None
                if f is None
                else tuple((a - _origin_shift(c), b - _origin_shift(c)) for a, b in f)
                for c, f in zip(clips, found, strict=True)
            ),
        )

    def sink(self, sink: Sink) -> Sink:
        """sink, with the layers mixed into what is written to it."""
        if not self.layers:
            return sink
        layers = [Layered(layer, total=self.total) for layer in self.layers]
        return _LayeredSink(sink, layers, self.speech)


class _LayeredSink:
    """Writes the cut's sound with layers mixed under it."""

    def __init__(self, sink: Sink, layers: list[Layered], speech: tuple[tuple[float, float], ...]):
        self.sink, self.layers, self.speech = sink, layers, speech
        self.at = 0
        self.partial = b""

    def write(self, data: bytes | bytearray) -> object:
        import numpy as np

        data = self.partial + bytes(data)
        whole = len(data) // SAMPLE_BYTES * SAMPLE_BYTES
        self.partial = data[whole:]
        y = np.frombuffer(data[:whole], np.float32).reshape(-1, 2).copy()
        for layer in self.layers:
            layer.add(y, self.at, self.speech)
        self.at += len(y)
        return self.sink.write(y.tobytes())


def _end(clips: list[CutClip]) -> float:
    """Where the cut ends, in seconds."""
    return clips[-1].start + clips[-1].duration if clips else 0.0


def _in_slot(clip: CutClip) -> list[tuple[float, float]]:
    """The clip's known speech in seconds of its slot."""
    shift = _origin_shift(clip)
    return [(a + shift, b + shift) for a, b in clip.source.speech or ()]


def plan_mix(
    clips: list[CutClip], options: CutOptions, layers: Sequence[Layer], *, scratch: Path
) -> Mixing | None:
    """The cut's mix, its first pass done (None: the plain join, nothing laid under it).
    With transitions the clips' sounds already blend: only the layers are laid, ducked under
    the speech known from the take checks."""
    total = _end(clips)
    if not (options.seams or layers):
        return None
    if options.crossfade:
        if not layers:
            return None
        speech = tuple(
            (clip.start + a + _origin_shift(clip), clip.start + b + _origin_shift(clip))
            for clip in clips
            for a, b in clip.source.speech or ()
        )
        return Mixing(None, [], None, layers, speech, total, [])
    if all(c.source.floor_known and c.source.speech is not None for c in clips):
        # Everything the mix needs is known: no first pass, each clip decoded as it is fed.
        floors = [c.source.floor for c in clips]
        gains = floor_gains(floors) if options.seams else [0.0] * len(clips)
        speech = tuple(
            (clip.start + a / AUDIO_RATE, clip.start + b / AUDIO_RATE)
            for clip, (samples, _) in zip(clips, track_spans(clips), strict=True)
            for a, b in widen(_in_slot(clip), length=samples)
        )
        return Mixing(None, gains, None, layers, speech, total, [], seamed=options.seams,
                      floors=floors, streamed=True)  # fmt: skip
    sounds, found = decode_sounds(clips, scratch)
    floors = [s.floor for s in sounds]
    gains = floor_gains(floors) if options.seams else [0.0] * len(sounds)
    speech = tuple(
        (clip.start + a / AUDIO_RATE, clip.start + b / AUDIO_RATE)
        for clip, sound in zip(clips, sounds, strict=True)
        for a, b in sound.speech
    )
    return Mixing(sounds, gains, scratch, layers, speech, total, [], seamed=options.seams,
                  found=found, floors=floors)  # fmt: skip


def write_track(
    clips: list[CutClip], options: CutOptions, sink: Sink, mixing: Mixing | None = None
) -> None:
    """The cut's whole sound as raw 48 kHz float stereo, one clip decoded at a time (with
    mixing: one clip read back from its first pass at a time)."""
    if mixing is not None:
        sink = mixing.sink(sink)
        if mixing.sounds is not None or mixing.streamed:
            leveled = (
                _streamed(clips, mixing.gains)
                if mixing.sounds is None
                else _leveled(mixing.sounds, mixing.gains, mixing.scratch or Path())
            )
            for piece in seamed(leveled, seams=mixing.seamed, record=mixing.seams):
                sink.write(piece.tobytes())
            return
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


def _measure(
    clips: list[CutClip],
    options: CutOptions,
    *,
    sound: Path,
    ffmpeg: str | None,
    mixing: Mixing | None = None,
) -> tuple[Loudness | None, tuple[float, ...]]:
    """The first loudness pass, and the loudness of each of its gating blocks; the sound it
    measured is kept in the file sound for the second, so that nothing is decoded twice."""

    def feed(sink: IO[bytes]) -> None:
        with sound.open("wb") as kept:
            write_track(clips, options, _Tee(sink, kept), mixing)

    try:
        stderr = media.run_ffmpeg(
            measure_command(), ffmpeg=ffmpeg, what="stitch: loudness", feed=feed
        )
    except OSError as exc:  # the kept sound's file: the pipe's own failures are ffmpeg's
        end = clips[-1].start + clips[-1].duration
        size = math.ceil(round(end * AUDIO_RATE) * SAMPLE_BYTES / 1e6)
        raise WriteError(
            f"{sound.parent}: cannot keep the cut's raw sound ({exc.strerror}): it takes about "
            f"{size} MB there: free disk space or fix its permissions, or stitch with --no-loudnorm"
        ) from None
    return parse_loudness(stderr), parse_blocks(stderr)


ABSOLUTE_GATE = -70.0  # LUFS: blocks under it never count (ITU-R BS.1770)
RELATIVE_GATE = 10.0  # LU: nor do blocks this far under the loudness of those over it


def gated_loudness(blocks: Sequence[float], gain: float) -> float:
    """The integrated loudness of a sound whose 400 ms blocks measure blocks, after a gain of
    gain dB: the gates stay where they are while the blocks move."""

    def power_mean(levels: list[float]) -> float:
        return 10 * math.log10(sum(10 ** (level / 10) for level in levels) / len(levels))

    heard = [level + gain for level in blocks if level + gain > ABSOLUTE_GATE]
    if not heard:
        return -math.inf
    relative = power_mean(heard) - RELATIVE_GATE
    return power_mean([level for level in heard if level > relative])


def gain_for(target: float, measured: Loudness, blocks: Sequence[float]) -> float:
    """The gain that takes the measured sound to target LUFS: target less its loudness, unless
    the gates move the result. A gain down can sink quiet passages under the absolute gate, which
    lifts the relative gate and so the loudness (2.7 LU over -40 for a cut that is a third
    near-silence): the blocks show by how much, and the gain makes up for it."""
    gain = target - measured.input_i
    before = gated_loudness(blocks, 0.0)
    if not math.isfinite(before):
        return gain
    for _ in range(8):
        missing = target - (measured.input_i + gated_loudness(blocks, gain) - before)
        if abs(missing) < 0.05:
            break
        gain += missing
    return gain


# The limiter takes loudness off with the peaks it holds down. Up to this much (dB over the
# ceiling) that loss is a few tenths of a LU and the first gain stands; beyond it, the gain is
# raised until the limited sound meets the target.
SLIGHT_LIMITING = 1.0
PROBES = 2  # quick loudness passes (about 0.17 s each for 24 clips) at most
TOLERANCE = 0.5  # LU


def find_gain(target: float, gain: float, loudness_at: Callable[[float], float]) -> float:
    """The gain whose limited sound is target LUFS loud, from the first gain (the one that meets
    the target without a limiter); loudness_at(g) measures the sound limited after a gain of
    g dB. Within TOLERANCE of the target it stops; after PROBES it takes its last step
    unmeasured.

    The limiter only takes away, so the loudness grows no faster than the gain: adding what is
    missing never overshoots (the first step). Past that, the sound is modelled as a part the
    limiter leaves alone, whose energy grows with the gain, and a part held at the ceiling,
    whose energy does not: loudness(g) = 10 log10(a 10^(g/10) + b). Two measures fix a and b,
    and the next gain is the model's for the target: never less than adding what is missing.
    """
    probed: list[tuple[float, float]] = []
    for _ in range(PROBES):
        got = loudness_at(gain)
        if target - got <= TOLERANCE:
            return gain
        probed.append((gain, got))
        gain = _next_gain(target, probed)
    return gain


def _next_gain(target: float, probed: list[tuple[float, float]]) -> float:
    gain, got = probed[-1]
    missing = target - got
    if len(probed) < 2:
        return gain + missing
    (g0, i0), (g1, i1) = probed[-2:]
    energy = [10 ** (i / 10) for i in (i0, i1)]
    power = [10 ** (g / 10) for g in (g0, g1)]
    free = (energy[1] - energy[0]) / (power[1] - power[0])  # a: the part left alone
    held = energy[0] - free * power[0]  # b: the part at the ceiling
    wanted = (10 ** (target / 10) - held) / free if free > 0 else 0.0
    if wanted <= 0:  # the measures do not fit the model: the safe step
        return gain + missing
    return min(max(10 * math.log10(wanted), gain + missing), gain + 3 * missing)


def level(
    measured: Loudness,
    blocks: Sequence[float],
    options: CutOptions,
    *,
    sound: Path,
    ffmpeg: str | None,
) -> Leveling:
    """The second pass's gain and limiter for the measured sound kept in the file sound (blocks:
    the loudness of its gating blocks)."""
    gain = gain_for(options.loudness, measured, blocks)
    first = first_leveling(measured, gain=gain, true_peak=options.true_peak)
    if first.ceiling is None or measured.input_tp + first.gain - first.ceiling <= SLIGHT_LIMITING:
        return first

    def loudness_at(gain: float) -> float:
        probe = probe_command(sound, replace(first, gain=gain))
        return parse_integrated(media.run_ffmpeg(probe, ffmpeg=ffmpeg, what="stitch: loudness"))

    return replace(first, gain=find_gain(options.loudness, first.gain, loudness_at))


@contextlib.contextmanager
def _writing(folder: Path, what: str) -> Iterator[None]:
    """WriteError naming folder when ffmpeg, writing what there, finds the disk full or
    read-only (ffmpeg's own words would name neither)."""
    try:
        yield
    except MediaError as exc:
        reason = media.write_failure(exc.message)
        if reason is None:
            raise
        raise WriteError(
            f"{folder}: cannot write {what} ({reason}): free disk space there or fix its "
            "permissions; what was there before is intact"
        ) from None


class _Tee:
    """Writes to two files at once."""

    def __init__(self, first: IO[bytes], second: IO[bytes]) -> None:
        self.first, self.second = first, second

    def write(self, data: bytes | bytearray) -> int:
        self.second.write(data)
        return self.first.write(data)


def cues(clips: list[CutClip], options: CutOptions, *, burned: bool = False) -> list[Cue]:
    """One caption per clip with speech, shown for the clip's slot (halfway through transitions);
    with word captions, one per word as it is said. burned: only those to draw on the picture
    (not over a clip whose picture shows its caption already)."""
    half = options.crossfade / 2
    found = []
    for n, clip in enumerate(clips):
        if not clip.source.caption or (burned and clip.source.captioned):
            continue
        start = clip.start + (half if n else 0.0)
        end = clip.start + clip.duration - (half if n < len(clips) - 1 else 0.0)
        if options.word_captions:
            found += word_cues(clip, start=start, end=end)
        else:
            found.append(Cue(start, end, clip.source.caption))
    return found


def word_cues(clip: CutClip, *, start: float, end: float) -> list[Cue]:
    """A clip's line word by word, each word shown from when it is said (the take checks' word
    alignment, else spread over the speech found) until the next, within start and end."""
    from ..captions import word_cues as timed

    assert clip.source.caption is not None
    origin = clip.part[0]  # the clip's second shown at its slot's start
    stat = clip.path.stat()
    words = _said(clip.path, stat.st_mtime_ns, stat.st_size, clip.source.caption, clip.part)
    shifted = [(text, clip.start + at - origin) for text, at in words]
    return timed(shifted, start=start, end=end)


@functools.lru_cache(maxsize=64)
def _said(
    path: Path, mtime: int, size: int, line: str, part: tuple[float, float]
) -> tuple[tuple[str, float], ...]:
    """said_words, once per clip file as it is (the burned captions and the caption files both
    need them)."""
    from ..checks.timing import said_words

    return tuple(said_words(path, line, span=part))


def caption_track(
    clips: list[CutClip],
    options: CutOptions,
    *,
    shape: Shape,
    scratch: Path,
    tag: str,
    made: list[Path],
) -> Path | None:
    """An ffconcat list of caption images, each for its cue (a blank one between), or None when
    no clip has a caption. Each image holds the captions' safe zone alone, to be laid at its top
    left corner (options.safe's box): the overlay blends that area, not the whole frame."""
    from PIL import Image

    timeline = cues(clips, options, burned=True)
    if not timeline:
        return None
    zone = options.safe.box(shape.size)
    blank = scratch / f".partial-caption-{tag}-blank.png"
    Image.new("RGBA", (zone[2] - zone[0], zone[3] - zone[1]), (0, 0, 0, 0)).save(blank)
    made.append(blank)
    art = []
    for n, cue in enumerate(timeline):
        drawn = scratch / f".partial-caption-{tag}-{n:03d}.png"
        made.append(draw_caption(cue.text, drawn, size=shape.size, zone=zone, spoken=cue.spoken,
                                 cropped=True))  # fmt: skip
        art.append(drawn)
    listing = scratch / f".partial-captions-{tag}.txt"
    listing.write_text(caption_listing(timeline, art=art, blank=blank), encoding="utf-8")
    made.append(listing)
    return listing


def _pictures(
    clips: list[CutClip],
    *,
    copy: bool,
    shape: Shape,
    scratch: Path,
    tag: str,
    ffmpeg: str | None,
    made: list[Path],
    fill: Fill = "blur",
    any_size: bool = False,
) -> list[tuple[Piece, tuple[int, int]]]:
    """Each clip's picture as the joined input reads it, with its size: the take itself when it
    can (any_size: of any size, which the cut's own encode fits into its frame), else a file of
    its own fitted into the frame (or, for a copy, remuxed), made one clip at a time."""
    pieces = []
    for n, clip in enumerate(clips):
        video = clip.info.video
        assert video is not None
        as_it_is = copy or direct(clip, shape, any_size=any_size)
        size = (video.width, video.height) if as_it_is else shape.size
        if as_it_is and video.index == 0:
            pieces.append((Piece(clip.path, video.start, clip.duration), size))
            continue
        own = scratch / f".partial-picture-{tag}-{n:03d}.mp4"
        made.append(own)
        command = (
            remux_command(clip.path, own)
            if as_it_is
            else normalize_command(
                clip.path, own, shape=shape, duration=clip.duration, trim=clip.trim, fill=fill
            )
        )
        with _writing(scratch, "the clips' pictures"):
            media.run_ffmpeg(command, ffmpeg=ffmpeg, what=f"stitch: {clip.source.name}")
        made_video = media.probe(own).video
        pieces.append((Piece(own, made_video.start if made_video else 0.0, clip.duration), size))
    return pieces


# Each run of neighbours of one size is read by a decoder of its own, all open at once (about
# 40 MB each at these sizes): past this many, clips are fitted on their own first instead.
MAX_RUNS = 6


def _any_size(clips: list[CutClip], shape: Shape, options: CutOptions) -> bool:
    """True when takes of any size can be read as they are, the cut's own encode fitting them
    into its frame. Transitions read every clip from one input: there, only when every clip is
    such a take of one and the same size (else each is fitted into the frame on its own); nor
    when the sizes alternate so often that more than MAX_RUNS decoders would be open."""
    sizes = [
        (c.info.video.width, c.info.video.height)
        if c.info.video and direct(c, shape, any_size=True)
        else shape.size
        for c in clips
    ]
    runs = 1 + sum(a != b for a, b in itertools.pairwise(sizes))
    if not options.crossfade or len(clips) < 2:
        return runs <= MAX_RUNS
    return len(set(sizes)) == 1 and all(direct(c, shape, any_size=True) for c in clips)


def _runs(
    placed: list[tuple[Piece, tuple[int, int]]], *, scratch: Path, tag: str, made: list[Path]
) -> list[Run]:
    """The pictures as runs of neighbours of one size, each written as its own ffconcat list."""
    groups: list[tuple[tuple[int, int], list[Piece]]] = []
    for piece, size in placed:
        if groups and groups[-1][0] == size:
            groups[-1][1].append(piece)
        else:
            groups.append((size, [piece]))
    runs = []
    for k, (size, pieces) in enumerate(groups):
        listing = scratch / f".partial-concat-{tag}-{k:03d}.txt"
        made.append(listing)
        listing.write_text(ffconcat(pieces), encoding="utf-8")
        runs.append(Run(listing, size))
    return runs


def _transitions(
    clips: list[CutClip],
    videos: list[Piece],
    *,
    shape: Shape,
    scratch: Path,
    tag: str,
    made: list[Path],
) -> Transitions:
    """The crossfades' heads list, written to scratch, and their frame math."""
    heads = scratch / f".partial-heads-{tag}.txt"
    made.append(heads)
    starts, lengths = transition_frames(clips, fps=shape.fps)
    heads.write_text(ffconcat(head_pieces(videos, lengths, fps=shape.fps)), encoding="utf-8")
    return Transitions(heads, tuple(starts), tuple(lengths))


# The names of the stitch's own scratch files, with the id of the process that made them.
_SCRATCH = re.compile(r"\.partial-(?:sound|picture|concat|heads|captions?)-(\d+)[-.]")


def _alive(pid: int) -> bool:
    """True when a process of that id runs (perhaps another user's)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clear_leftovers(scratch: Path, output: Path) -> None:
    """Remove what a stitch killed outright (kill -9, a power cut) left half-made: its scratch
    files (the raw sound alone is ~46 MB for 24 clips) and its partial cut of the same name.
    A stitch still running, and every other file, are left alone."""
    beside = re.compile(rf"\.partial-(\d+)-{re.escape(output.name)}")
    found = [(p, _SCRATCH.match(p.name)) for p in scratch.glob(".partial-*")]
    found += [(p, beside.fullmatch(p.name)) for p in output.parent.glob(".partial-*")]
    for path, match in found:
        if match and not _alive(int(match.group(1))):
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)


def _planned(
    clips: list[CutClip],
    options: CutOptions,
    layers: Sequence[Layer],
    *,
    scratch: Path,
    tag: str,
    made: list[Path],
) -> Mixing | None:
    """The cut's mix planned, its first pass (if it needs one) kept in a scratch file."""
    kept = scratch / f".partial-sound-{tag}-clips.f32"
    made.append(kept)
    with _writing(scratch, "the clips' sound"):
        return plan_mix(clips, options, layers, scratch=kept)


def _picture_inputs(
    clips: list[CutClip],
    options: CutOptions,
    *,
    copy: bool,
    shape: Shape,
    scratch: Path,
    tag: str,
    ffmpeg: str | None,
    made: list[Path],
) -> tuple[list[Run], Transitions | None, Path | None]:
    """What the cut's picture is read from: the clips as runs of one size each, the heads of
    the transitions (if any) and the caption images' list (if burned)."""
    placed = _pictures(
        clips, copy=copy, shape=shape, scratch=scratch, tag=tag, ffmpeg=ffmpeg, made=made,
        fill=options.fill, any_size=_any_size(clips, shape, options),
    )  # fmt: skip
    videos = [piece for piece, _ in placed]
    runs = _runs(placed, scratch=scratch, tag=tag, made=made)
    transitions = (
        _transitions(clips, videos, shape=shape, scratch=scratch, tag=tag, made=made)
        if options.crossfade and len(clips) > 1
        else None
    )
    captions = (
        caption_track(clips, options, shape=shape, scratch=scratch, tag=tag, made=made)
        if options.burn_captions
        else None
    )
    return runs, transitions, captions


def join(
    sources: list[Source],
    *,
    output: Path,
    scratch: Path,
    ffmpeg: str | None = None,
    options: CutOptions | None = None,
    shape: Shape | None = None,
    laid: list[CutClip] | None = None,
    aside: Callable[[], object] | None = None,
    layers: Sequence[Layer] = (),
) -> StitchResult:
    """Join sources into output, in order, keeping each one's sound on its picture.

    shape: the cut's picture (the default backend's when not given); a clip of another shape is
    normalized to it. laid: the sources already laid out (with this crossfade), if they are.
    aside: work of the caller's to start on its own thread once the sound is measured (while the
    loudness passes leave a core free), or at once when there is nothing to measure. layers:
    music and ambience beds to lay under the cut.

    One ffmpeg run makes the cut (two with loudness: the first only measures). The sound is
    decoded here one clip at a time and handed to ffmpeg raw; the picture is read by one decoder
    (or none, when copied): memory does not grow with the number of clips.
    """
    options = options or CutOptions()
    shape = framed(shape or default_shape(), options)
    clips = laid if laid is not None else layout(sources, crossfade=options.crossfade)
    for folder in (output.parent, scratch):
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WriteError(
                f"{folder}: cannot write ({exc.strerror}): fix its permissions or free disk space"
            ) from None
    clear_leftovers(scratch, output)
    tag = f"{os.getpid()}"
    partial = output.with_name(f".partial-{tag}-{output.name}")
    copied = can_copy_video(clips, options, shape)
    made: list[Path] = []
    measured = None
    blocks: tuple[float, ...] = ()
    leveling: Leveling | None = None
    made_loudness: Loudness | None = None
    sound: Path | None = None
    try:
        pictures, transitions, captions = _picture_inputs(
            clips, options, copy=copied, shape=shape, scratch=scratch, tag=tag, ffmpeg=ffmpeg,
            made=made,
        )  # fmt: skip
        mixing = _planned(clips, options, layers, scratch=scratch, tag=tag, made=made)
        if options.loudnorm:
            sound = scratch / f".partial-sound-{tag}.f32"
            made.append(sound)
            measured, blocks = _measure(clips, options, sound=sound, ffmpeg=ffmpeg, mixing=mixing)
        if aside is not None:
            aside()
        if measured is not None:
            assert sound is not None
            leveling = level(measured, blocks, options, sound=sound, ffmpeg=ffmpeg)
        args = build_command(
            output=partial,
            pictures=pictures,
            shape=shape,
            copy=copied,
            sound=sound,
            leveling=leveling,
            transitions=transitions,
            captions=captions,
            captions_at=options.safe.box(shape.size)[:2],
            preview=options.preview,
            fill=options.fill,
        )
        feed = None if sound else lambda sink: write_track(clips, options, sink, mixing)
        with _writing(output.parent, "the cut"):
            stderr = media.run_ffmpeg(args, ffmpeg=ffmpeg, what="stitch", feed=feed)
        made_loudness = parse_loudness(stderr) if leveling else None
        move_durably(partial, output)
    except MediaError as exc:
        raise StitchError(exc.message) from None
    finally:
        for leftover in (partial, *made):
            # On a read-only disk even removing a file that is not there fails: that must not
            # hide why the stitch stopped.
            with contextlib.suppress(OSError):
                leftover.unlink(missing_ok=True)
    return StitchResult(
        output=output, duration=_end(clips), clips=tuple(clips), video_copied=copied,
        loudness=measured, leveling=leveling, made_loudness=made_loudness,
        mix=mixing.report(clips) if mixing else None,
        frame=shape.preview if options.preview else shape.size,
    )  # fmt: skip
